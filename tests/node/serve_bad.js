// Bad clients against a served cluster of examples/counter.rs, each kind
// of bad message in turn, while a good hotpocket-js-client keeps working.
// Raw sessions use ws, libsodium-wrappers, bson and blake3: the client's
// own dependencies, pinned by the same lockfile.
// argv: BASE_PORT NODES UNL
const HP = require('hotpocket-js-client');
const WebSocket = require('ws');
const sodium = require('libsodium-wrappers');
const bson = require('bson');
const assert = require('assert');

const [base, , unlCsv] = process.argv.slice(2);
const unl = unlCsv.split(',');
const url = `ws://127.0.0.1:${Number(base)}`;

// A raw session: resolves once the handshake is done (or the socket closed).
function raw(protocol, { badSig = false } = {}) {
  return new Promise((resolve) => {
    const kp = sodium.crypto_sign_keypair();
    const ws = new WebSocket(url);
    const s = { ws, closed: false, inbox: [], protocol, kp };
    ws.on('close', () => { s.closed = true; resolve(s); });
    ws.on('error', () => {});
    let state = 0;
    ws.on('message', (data) => {
      if (state === 0) {
        const ch = JSON.parse(data.toString());
        const sig = sodium.crypto_sign_detached(badSig ? 'other' : ch.challenge, kp.privateKey);
        ws.send(Buffer.from(JSON.stringify({ type: 'user_challenge_response', sig: Buffer.from(sig).toString('hex'),
          pubkey: 'ed' + Buffer.from(kp.publicKey).toString('hex'), server_challenge: 'abc', protocol })));
        state = 1;
      } else if (state === 1) {
        state = 2;
        resolve(s);
      } else {
        s.inbox.push(protocol === 'bson' ? bson.deserialize(data, { promoteBuffers: true }) : JSON.parse(data.toString()));
      }
    });
  });
}

async function reply(s, ms = 3000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (s.inbox.length) return s.inbox.shift();
    if (s.closed) return 'closed';
    await new Promise((r) => setTimeout(r, 10));
  }
  return 'nothing';
}

async function closedWithin(s, ms) {
  const end = Date.now() + ms;
  while (!s.closed && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  return s.closed;
}

function signedInput(s, input, nonce, max) {
  const container = JSON.stringify({ input, nonce, max_ledger_seq_no: max });
  const sig = Buffer.from(sodium.crypto_sign_detached(container, s.kp.privateKey)).toString('hex');
  return Buffer.from(JSON.stringify({ type: 'contract_input', input_container: container, sig }));
}

async function lcl(s) {
  s.ws.send(Buffer.from(JSON.stringify({ type: 'lcl' })));
  return (await reply(s)).ledger_seq_no;
}

(async () => {
  await sodium.ready;
  HP.setLogLevel(1);
  const good = await HP.createClient([url], await HP.generateKeys(), { protocol: 'bson', trustedServerKeys: unl });
  const outs = [];
  good.on(HP.events.contractOutput, (r) => outs.push(r));
  assert(await good.connect());
  const goodRound = async (what) => {
    const before = outs.length;
    const st = await (await good.submitContractInput('{"Add":1}')).submissionStatus;
    assert.strictEqual(st.status, 'accepted', `${what}: ${JSON.stringify(st)}`);
    const end = Date.now() + 10000;
    while (outs.length === before && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    assert(outs.length > before, `good client output after ${what}`);
    console.log(`after ${what}: good client served`);
  };

  let s = await raw('json', { badSig: true });
  assert(await closedWithin(s, 2000), 'bad challenge signature closes');
  await goodRound('a bad handshake signature');

  s = await raw('json');
  s.ws.send(Buffer.from('{"type":'));
  assert.strictEqual((await reply(s)).reason, 'bad_msg_format');
  s.ws.send(Buffer.from('{"type":"dance"}'));
  assert.strictEqual((await reply(s)).reason, 'invalid_msg_type');
  const seq = await lcl(s);
  s.ws.send(signedInput(s, 'late', 1, seq));
  assert.strictEqual((await reply(s)).reason, 'max_ledger_expired');
  s.ws.send(signedInput(s, 'far', 1, seq + 1000));
  assert.strictEqual((await reply(s)).reason, 'max_ledger_offset_exceeded');
  const forged = JSON.parse(signedInput(s, 'mine', 2, seq + 10).toString());
  forged.input_container = forged.input_container.replace('mine', 'your');
  s.ws.send(Buffer.from(JSON.stringify(forged)));
  assert.strictEqual((await reply(s, 5000)).reason, 'bad_sig');
  const once = signedInput(s, '{"Add":0}', 3, seq + 10);
  s.ws.send(once);
  const acc = await reply(s, 5000);
  assert.strictEqual(acc.status, 'accepted', JSON.stringify(acc));
  s.ws.send(once);
  assert.strictEqual((await reply(s)).reason, 'already_submitted');
  s.ws.send(signedInput(s, '{"Add":0}', 2, seq + 10));
  assert.strictEqual((await reply(s)).reason, 'nonce_expired');
  console.log('json session: bad_msg_format, invalid_msg_type, max_ledger_expired, max_ledger_offset_exceeded, bad_sig, already_submitted, nonce_expired');
  await goodRound('malformed JSON and bad inputs');

  const b = await raw('bson');
  b.ws.send(Buffer.from([5, 0, 0, 0, 7]));
  const r = await reply(b);
  assert.strictEqual(r.reason, 'bad_msg_format');
  assert.strictEqual(r.input_hash.length, 0);
  console.log('bson session: malformed BSON gets bad_msg_format with an empty hash');
  await goodRound('malformed BSON');

  s = await raw('json');
  s.ws.send(Buffer.alloc(5 * 1024 * 1024 + 1024, 'x'));
  assert(await closedWithin(s, 3000), 'an oversized message closes the session');
  await goodRound('an oversized message');

  s = await raw('json');
  s.ws._socket.write(Buffer.from([0x82, 0x7e, 0x10, 0x00, 1, 2, 3, 4, 5])); // half a frame
  s.ws._socket.destroy();
  await goodRound('a client vanishing mid-message');

  const idle = new WebSocket(url);
  idle.on('error', () => {});
  const idleClosed = await new Promise((res) => { idle.on('close', () => res(true)); setTimeout(() => res(false), 8000); });
  assert(idleClosed, 'no handshake within 5 s closes');
  await goodRound('a client that never answers the challenge');

  await good.close();
  console.log('ok');
  process.exit(0);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
