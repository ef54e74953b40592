// s3rver.mjs — starts @20minutes/s3rver (a real S3-protocol server that checks
// SigV4 signatures) on loopback for the tests, with one bucket.
//
//   node tests/s3/s3rver.mjs --dir DIR [--bucket NAME] [--conditional]
//
// Prints "s3rver listening on http://127.0.0.1:PORT" once ready and runs until
// killed. Credentials are s3rver's fixed pair: S3RVER / S3RVER.
//
// --conditional adds the one S3 feature s3rver lacks: conditional writes
// (PUT / CompleteMultipartUpload with "If-None-Match: *" answer 412 when the
// key exists), as real S3, MinIO and Ceph RGW do. This is a TEST FIXTURE
// EXTENSION, not part of s3rver: a Koa middleware placed before s3rver's
// router that serialises conditional writers per key and checks existence.
// Everything else — routing, signatures, storage, listing, multipart — is
// s3rver's own code.
import S3rver from '@20minutes/s3rver';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    bucket: { type: 'string', default: 'lakehouse-test' },
    port: { type: 'string', default: '0' },
    conditional: { type: 'boolean', default: false },
  },
});
if (!values.dir) {
  console.error('usage: s3rver.mjs --dir DIR [--bucket NAME] [--port N] [--conditional]');
  process.exit(2);
}

const server = new S3rver({
  address: '127.0.0.1',
  port: Number(values.port),
  directory: values.dir,
  silent: !process.env.LH_S3RVER_VERBOSE,
  configureBuckets: [{ name: values.bucket }],
});

if (values.conditional) {
  const locks = new Map(); // key -> tail of the promise chain of writers
  const conditional = async (ctx, next) => {
    const noneMatch = ctx.get('if-none-match');
    const isWrite = ctx.method === 'PUT' || (ctx.method === 'POST' && 'uploadId' in ctx.query);
    if (noneMatch !== '*' || !isWrite) return next();
    const [, bucket, ...rest] = ctx.path.split('/');
    const key = decodeURIComponent(rest.join('/'));
    const id = `${bucket}/${key}`;
    const previous = locks.get(id) ?? Promise.resolve();
    let release;
    const mine = new Promise((r) => (release = r));
    const tail = previous.then(() => mine);
    locks.set(id, tail);
    await previous;
    try {
      if (await ctx.store.existsObject(bucket, key)) {
        ctx.status = 412;
        ctx.type = 'application/xml';
        ctx.body =
          '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>PreconditionFailed</Code>' +
          '<Message>At least one of the pre-conditions you specified did not hold</Message>' +
          `<Condition>If-None-Match</Condition></Error>`;
        return;
      }
      await next();
    } finally {
      release();
      if (locks.get(id) === tail) locks.delete(id);
    }
  };
  // before s3rver's router (the last middleware), after its logger and XML encoder
  server.middleware.splice(server.middleware.length - 1, 0, conditional);
}

const { port } = await server.run();
console.log(`s3rver listening on http://127.0.0.1:${port}`);
const stop = () => server.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
