// Node baseline for the round-cost benchmark (tests/bench/round_cost.rs),
// written with the official library (npm hotpocket-nodejs-contract 0.7.4).
//   BENCH=echo   every input back to its user unchanged
//   BENCH=npl    send NPL_COUNT messages of NPL_SIZE bytes, wait for
//                NPL_COUNT from every UNL node (itself included)
const HotPocket = require('hpc074');
const mode = process.env.BENCH || 'echo';

async function contract(ctx) {
    if (mode === 'echo') {
        for (const user of ctx.users.list()) {
            for (const input of user.inputs) {
                const buf = await ctx.users.read(input);
                await user.send(buf);
            }
        }
    } else if (mode === 'npl' && !ctx.readonly) {
        const count = Number(process.env.NPL_COUNT || 1000);
        const size = Number(process.env.NPL_SIZE || 256);
        const want = count * ctx.unl.count();
        let got = 0;
        // 0.7.4's NPL read never ends by itself (hotpocket::guide::protocol, "NPL socket"): a libuv
        // worker stays blocked in read() on the NPL socket, and process.exit
        // waits for it (so does forceTerminate's SIGINT, which the engine
        // counts as a failed run anyway). So once done, each node sends a
        // short "bye" and exits when its own comes back: that read has then
        // returned and nothing is blocked. Byes are not counted.
        const bye = Buffer.from('bye');
        let done = false;
        const finish = () => {
            if (done)
                return;
            done = true;
            if (got < want)
                console.error(`npl: heard ${got} of ${want}`);
            ctx.unl.send(bye);
        };
        const timer = setTimeout(finish, Number(process.env.NPL_TIMEOUT_MS || 10000));
        ctx.unl.onMessage((node, msg) => {
            if (msg.length === bye.length && msg.equals(bye)) {
                if (node.publicKey === ctx.publicKey)
                    process.exit(0);
                return;
            }
            got += 1;
            if (got >= want) {
                clearTimeout(timer);
                finish();
            }
        });
        const msg = Buffer.alloc(size, 'n');
        for (let i = 0; i < count; i++)
            ctx.unl.send(msg);
        await new Promise(() => {});
    }
}

new HotPocket.Contract().init(contract);
