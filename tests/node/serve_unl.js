// The JS client following a UNL change on a served cluster of
// examples/admin.rs: the admin removes the last UNL node; every client
// subscribed to unl_change (hotpocket-js-client subscribes when it has
// trustedServerKeys) hears the new UNL in its own protocol, stat reports it,
// and outputs signed by the new UNL still pass the client's checks.
// argv: BASE_PORT NODES UNL(comma-separated) ADMIN_PRIVATE_KEY
const HP = require('hotpocket-js-client');
const assert = require('assert');

const [base, nodes, unlCsv, adminKey] = [Number(process.argv[2]), Number(process.argv[3]), process.argv[4], process.argv[5]];
const unl = unlCsv.split(',');
const { until } = require('./serve_wait');
const hexKey = (k) => (typeof k === 'string' ? k : Buffer.from(k).toString('hex'));

async function client(node, protocol, keys) {
  const c = await HP.createClient([`ws://127.0.0.1:${base + node}`], keys, { protocol, trustedServerKeys: unl });
  const seen = { outputs: [], unl: [] };
  c.on(HP.events.contractOutput, (r) => r.outputs.forEach((o) => seen.outputs.push(Buffer.isBuffer(o) ? o.toString() : o)));
  c.on(HP.events.unlChange, (list) => seen.unl.push(list.map(hexKey)));
  assert(await c.connect(), `connect to node ${node} (${protocol})`);
  return { c, seen };
}

(async () => {
  HP.setLogLevel(1);
  const admin = await client(0, 'bson', await HP.generateKeys(adminKey));
  const watcher = await client(1, 'json', await HP.generateKeys());
  const removed = unl[unl.length - 1];
  const expected = unl.filter((k) => k !== removed).sort();

  const s = await (await admin.c.submitContractInput(JSON.stringify({ remove_unl_node: removed }))).submissionStatus;
  assert.strictEqual(s.status, 'accepted', JSON.stringify(s));
  await until(() => admin.seen.outputs.length === 1, 10000, 'the removal reply (verified by the client)');
  const reply = JSON.parse(admin.seen.outputs[0]);
  assert.deepStrictEqual(reply, { unl_node_removed: { node: removed, unl_size: nodes - 1 } });
  for (const [who, c] of [['bson admin', admin], ['json watcher', watcher]]) {
    await until(() => c.seen.unl.length > 0, 10000, `unl_change on the ${who}`);
    assert.deepStrictEqual(c.seen.unl, [expected], `${who}: one unl_change with the new UNL`);
    const st = await c.c.getStatus();
    assert.deepStrictEqual(st.currentUnl.map(hexKey).sort(), expected, `${who}: stat's current_unl`);
  }
  console.log(`unl_change: ${expected.length} keys, ${removed} gone`);

  // Outputs after the change: signed by the new UNL, which the admin's
  // client now trusts instead of the one it was given.
  await admin.c.submitContractInput('"config"');
  await until(() => admin.seen.outputs.length === 2, 10000, 'the config reply under the new UNL');
  const config = JSON.parse(admin.seen.outputs[1]).config;
  assert.deepStrictEqual([...config.unl].sort(), expected);
  console.log(`config reply verified under the new UNL: ${JSON.stringify(config.unl)}`);
  await admin.c.close();
  await watcher.c.close();
  console.log('ok');
  process.exit(0);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
