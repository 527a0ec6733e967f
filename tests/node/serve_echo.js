// The JS client against a served cluster of the echo test contract, whose
// outputs are plain strings: JSON-mode output checks (output hash, hash
// tree, UNL signatures) with trustedServerKeys, and many clients at once.
// argv: BASE_PORT NODES UNL CLIENTS INPUTS
const HP = require('hotpocket-js-client');
const assert = require('assert');

const [base, nodes, unlCsv, clients, inputs] = process.argv.slice(2);
const unl = unlCsv.split(',');
const wait = (ms) => new Promise((r) => setTimeout(r, ms));

async function run(k) {
  const keys = await HP.generateKeys();
  const protocol = k % 2 ? 'bson' : 'json';
  const node = k % Number(nodes);
  const c = await HP.createClient([`ws://127.0.0.1:${Number(base) + node}`], keys, { protocol, trustedServerKeys: unl });
  const got = [];
  c.on(HP.events.contractOutput, (r) => r.outputs.forEach((o) => got.push(Buffer.isBuffer(o) ? o.toString() : o)));
  assert(await c.connect(), `client ${k} connects`);
  const lcl = await c.getLcl();
  const started = Date.now();
  const subs = [];
  for (let n = 1; n <= Number(inputs); n++) {
    // Explicit nonces, one max ledger for all: no lcl request per input.
    subs.push(c.submitContractInput(`c${k}-n${n}`, n, lcl.ledgerSeqNo + 10, false));
  }
  const statuses = await Promise.all((await Promise.all(subs)).map((s) => s.submissionStatus));
  statuses.forEach((s, n) => assert.strictEqual(s.status, 'accepted', `client ${k} input ${n + 1}: ${JSON.stringify(s)}`));
  const end = Date.now() + 20000;
  while (got.length < Number(inputs) && Date.now() < end) await wait(20);
  const expected = Array.from({ length: Number(inputs) }, (_, n) => `echo:c${k}-n${n + 1}`);
  assert.deepStrictEqual(got, expected, `client ${k} (${protocol}, node ${node}) outputs in nonce order`);
  await c.close();
  return Date.now() - started;
}

(async () => {
  HP.setLogLevel(1);
  const times = await Promise.all(Array.from({ length: Number(clients) }, (_, k) => run(k)));
  times.sort((a, b) => a - b);
  console.log(`ok: ${clients} clients x ${inputs} inputs, all outputs verified and in nonce order; submit-to-last-output ms: min ${times[0]}, median ${times[times.length >> 1]}, max ${times[times.length - 1]}`);
  process.exit(0);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
