// The official JS client (hotpocket-js-client 0.5.7) against a served
// cluster of examples/counter.rs (tests/serve/tests/js_client.rs starts it).
// argv: BASE_PORT NODES UNL(comma-separated). Prints one line per check;
// exits 1 on the first failure.
const HP = require('hotpocket-js-client');
const assert = require('assert');

const [base, nodes, unlCsv] = [Number(process.argv[2]), Number(process.argv[3]), process.argv[4]];
const unl = unlCsv.split(',');
const url = (i) => `ws://127.0.0.1:${base + i}`;
const { until } = require('./serve_wait');

async function client(i, protocol, trusted) {
  const keys = await HP.generateKeys();
  const c = await HP.createClient([url(i)], keys, { protocol, trustedServerKeys: trusted ? unl : null });
  const outputs = [];
  c.on(HP.events.contractOutput, (r) => outputs.push(r));
  const ledgers = [];
  c.on(HP.events.ledgerEvent, (e) => ledgers.push(e));
  assert(await c.connect(), `connect to node ${i} (${protocol})`);
  return { c, outputs, ledgers };
}

const text = (o) => (Buffer.isBuffer(o) ? o.toString() : typeof o === 'string' ? o : JSON.stringify(o));

(async () => {
  HP.setLogLevel(1);
  for (let i = 0; i < nodes; i++) {
    for (const protocol of ['json', 'bson']) {
      // JSON with trusted keys cannot verify the counter's outputs (they
      // look like JSON and are embedded raw): untrusted there, trusted in BSON.
      const trusted = protocol === 'bson';
      const { c, outputs, ledgers } = await client(i, protocol, trusted);
      const lcl = await c.getLcl();
      assert(Number.isInteger(lcl.ledgerSeqNo));
      const hash = Buffer.isBuffer(lcl.ledgerHash) ? lcl.ledgerHash.toString('hex') : lcl.ledgerHash;
      assert(/^[0-9a-f]{64}$/.test(hash), `lcl hash ${hash}`);
      const st = await c.getStatus();
      assert(st.hpVersion.startsWith('0.6.'));
      assert(['unknown', 'synced'].includes(st.voteStatus), `vote status ${st.voteStatus}`);
      const current = st.currentUnl.map((k) => (Buffer.isBuffer(k) ? 'ed' + k.toString('hex').slice(2) : k));
      assert.deepStrictEqual([...current].sort(), [...unl].sort());
      await c.subscribe(HP.notificationChannels.ledgerEvent);
      const inp = await c.submitContractInput(JSON.stringify({ Add: i + 1 }));
      const s = await inp.submissionStatus;
      assert.strictEqual(s.status, 'accepted', JSON.stringify(s));
      await until(() => outputs.length === 1, 10000, `output on node ${i} ${protocol}`);
      const out = outputs[0];
      assert.strictEqual(out.ledgerSeqNo, s.ledgerSeqNo + 1, 'outputs come with the next ledger');
      const value = JSON.parse(text(out.outputs[0]));
      assert(Number.isInteger(value.value) && Number.isInteger(value.changes), text(out.outputs[0]));
      const read = await c.submitContractReadRequest('"Get"', null, 5000);
      assert(read !== null, 'read response');
      assert(Number.isInteger(JSON.parse(text(read)).value), text(read));
      assert(ledgers.some((e) => e.event === 'ledger_created'), 'ledger_created events');
      const ledger = await c.getLedgerBySeqNo(s.ledgerSeqNo, false, false);
      assert(ledger && ledger.seqNo === s.ledgerSeqNo, `ledger query ${JSON.stringify(ledger)}`);
      console.log(`node ${i} ${protocol}${trusted ? ' trusted' : ''}: lcl ${lcl.ledgerSeqNo}, accepted in ${s.ledgerSeqNo}, output ${text(out.outputs[0])} in ${out.ledgerSeqNo}, read ${text(read)}`);
      await c.close();
    }
  }
  console.log('ok');
  process.exit(0);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
