// Echo contract written with the official HotPocket Node library, run by
// tests/sim/node.rs under the simulator. Its environment (the contract's only
// environment) picks the library version and the behaviour:
//   HP_LIB=hpc074|hpc0510   which published version to load (npm aliases)
//   FORCE_TERMINATE=1       0.7.4's forceTerminate (self-SIGINT at the end)
//   NPL_EXCHANGE=1          send one NPL message, report the senders heard
//   NPL_TIMEOUT_MS=n        how long to wait for the UNL's messages
//   ECHO_META=1             first tell each user what the library saw
const fs = require('fs');
const lib = process.env.HP_LIB || 'hpc074';
const HotPocket = require(lib);

async function contract(ctx) {
    for (const user of ctx.users.list()) {
        if (process.env.ECHO_META) {
            await user.send(Buffer.from(`meta:readonly=${ctx.readonly} seq=${ctx.lclSeqNo} ts=${ctx.timestamp} unl=${ctx.unl.count()} users=${ctx.users.count()}`));
        }
        for (const input of user.inputs) {
            const buf = await ctx.users.read(input);
            await user.send(Buffer.concat([Buffer.from('echo:'), buf]));
        }
    }
    if (!ctx.readonly) {
        const count = fs.existsSync('count.txt') ? Number(fs.readFileSync('count.txt', 'utf8')) : 0;
        const inputs = ctx.users.list().reduce((n, u) => n + u.inputs.length, 0);
        fs.writeFileSync('count.txt', `${count + inputs}\n`);
    }
    if (process.env.NPL_EXCHANGE && !ctx.readonly) {
        const want = ctx.unl.count();
        const senders = [];
        await new Promise(resolve => {
            const timer = setTimeout(resolve, Number(process.env.NPL_TIMEOUT_MS || 3000));
            ctx.unl.onMessage((node, msg) => {
                senders.push(`${node.publicKey.substr(0, 10)}=${msg.toString()}`);
                if (senders.length >= want) {
                    clearTimeout(timer);
                    resolve();
                }
            });
            ctx.unl.send(`hi-${ctx.publicKey.substr(2, 6)}`);
        });
        senders.sort();
        for (const user of ctx.users.list())
            await user.send(Buffer.from(`npl:${senders.join(',')}`));
    }
}

const hpc = new HotPocket.Contract();
if (lib === 'hpc074')
    hpc.init(contract, HotPocket.clientProtocols.json, !!process.env.FORCE_TERMINATE);
else
    hpc.init(contract);
