// shutdown.test.mjs — SIGTERM / SIGINT stop the server cleanly and let in-flight
// requests finish; a second signal exits at once.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rawRequest, startServer } from './harness.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe('graceful shutdown', () => {
  it('stops on SIGTERM with exit 0 when idle', async () => {
    const srv = await startServer();
    const t0 = Date.now();
    const { code } = await srv.stop('SIGTERM');
    assert.equal(code, 0);
    assert.ok(Date.now() - t0 < 5000);
    assert.match(srv.logs(), /event=server\.stopped signal=SIGTERM/);
  });

  it('stops on SIGINT (Ctrl-C) with exit 0', async () => {
    const srv = await startServer();
    const { code } = await srv.stop('SIGINT');
    assert.equal(code, 0);
    assert.match(srv.logs(), /event=server\.stopped signal=SIGINT/);
  });

  it('lets a request in flight finish before exiting', async () => {
    const srv = await startServer();
    // Headers and half of the body now; SIGTERM; the rest of the body later.
    const body = '{"pad":"' + 'z'.repeat(200) + '"}';
    const half = body.length >> 1;
    let signalled = false;
    const reply = rawRequest(
      srv.port,
      [
        `POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, half)}`,
        body.slice(half),
      ],
      {
        delayMs: 600,
        onConnected: async () => {
          await sleep(150);
          srv.child.kill('SIGTERM');
          signalled = true;
        },
      },
    );
    const raw = await reply;
    assert.ok(signalled);
    // the request completed (405: /health is GET-only) instead of being cut off
    assert.match(raw, /^HTTP\/1\.1 405 /);
    assert.match(raw, /connection: close/i);
    const { code } = await srv.exited;
    assert.equal(code, 0);
    assert.match(srv.logs(), /event=server\.draining in_flight=1/);
  });

  it('refuses new connections once stopping', async () => {
    const srv = await startServer();
    const slow = rawRequest(srv.port, [
      'POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345',
      '67890',
    ], { delayMs: 800 });
    await sleep(200);
    srv.child.kill('SIGTERM');
    await sleep(200);
    // a new connection is refused (keep-alive connections opened before may still finish)
    await assert.rejects(rawRequest(srv.port, ['GET /health HTTP/1.1\r\nHost: x\r\n\r\n']), /ECONNREFUSED/);
    await slow;
    assert.equal((await srv.exited).code, 0);
  });

  it('exits at once on a second signal during the drain', async () => {
    const srv = await startServer({ args: ['--set', 'server.shutdown_timeout_s=60'] });
    const stuck = rawRequest(srv.port, [
      'POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly-part',
    ]);
    await sleep(200);
    srv.child.kill('SIGTERM');
    await sleep(300);
    const t0 = Date.now();
    srv.child.kill('SIGINT');
    const { code } = await srv.exited;
    assert.equal(code, 130);
    assert.ok(Date.now() - t0 < 3000);
    await stuck;
  });
});
