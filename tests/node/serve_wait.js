// Waiting helpers shared by the serve_*.js scripts.
const wait = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls `pred` every 20 ms; throws naming `what` after `ms`.
async function until(pred, ms, what) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (pred()) return;
    await wait(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}

module.exports = { wait, until };
