// wrk.mjs — the load generator the benches share: wrk (C, on loopback), so
// that the client, not the server, is never what a measurement measures.
import { spawn, spawnSync } from 'node:child_process';

function args(url, { threads = 2, conns = 64, seconds = 5, script } = {}) {
  const a = [`-t${threads}`, `-c${conns}`, `-d${seconds}s`, '--latency'];
  if (script) a.push('-s', script);
  return [...a, url];
}

// Runs wrk against url; script is a Lua file (postScript). Latencies in ms.
export function wrk(url, opt = {}) {
  const r = spawnSync('wrk', args(url, opt), { encoding: 'utf8', timeout: ((opt.seconds ?? 5) + 30) * 1000 });
  return parse(r.stdout || '');
}

// The same, without blocking the event loop: a server whose output this
// process drains (the e2e harness) must not stall on a full pipe meanwhile.
export function wrkAsync(url, opt = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn('wrk', args(url, opt), { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('error', reject);
    p.on('close', () => resolve(parse(out)));
  });
}

function parse(out) {
  const ms = (p) => {
    const m = out.match(new RegExp(`\\s${p}%\\s+([\\d.]+)(us|ms|s)`));
    return m ? Number(m[1]) * (m[2] === 'us' ? 1e-3 : m[2] === 's' ? 1e3 : 1) : NaN;
  };
  const errors = out.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  return {
    rps: Number((out.match(/Requests\/sec:\s+([\d.]+)/) || [])[1] || 0),
    requests: Number((out.match(/(\d+) requests in/) || [])[1] || 0),
    p50: ms(50),
    p99: ms(99),
    errors: errors ? errors.slice(1).map(Number).reduce((a, b) => a + b, 0) : 0,
    non2xx: Number((out.match(/Non-2xx or 3xx responses: (\d+)/) || [])[1] || 0),
    out,
  };
}

// A wrk script that POSTs the JSON bodies in turn (one body: a fixed request wrk builds once).
export function postScript(bodies, headers = {}) {
  const text = (b) => JSON.stringify(typeof b === 'string' ? b : JSON.stringify(b));
  const lines = ['wrk.method = "POST"', 'wrk.headers["Content-Type"] = "application/json"',
    ...Object.entries(headers).map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`)];
  if (bodies.length === 1) lines.push(`wrk.body = ${text(bodies[0])}`);
  else lines.push('bodies = {', ...bodies.map((b) => `  ${text(b)},`), '}', 'i = 0', 'request = function()', '  i = i + 1',
    '  return wrk.format(nil, nil, nil, bodies[(i % #bodies) + 1])', 'end');
  return `${lines.join('\n')}\n`;
}
