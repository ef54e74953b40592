// blake3_reference.mjs — BLAKE3 digests from an independent implementation
// (@noble/hashes, installed by scripts/bootstrap) for test_base's check of
// src/base/blake3.c: the inputs are the official test vectors' pattern (byte
// i is i % 251) at each length given, one "length hex" line each.
import { blake3 } from '@noble/hashes/blake3.js';

const lengths = process.argv.slice(2).map(Number);
const max = Math.max(0, ...lengths);
const data = new Uint8Array(max);
for (let i = 0; i < max; i++) data[i] = i % 251;
for (const n of lengths) console.log(`${n} ${Buffer.from(blake3(data.subarray(0, n))).toString('hex')}`);
