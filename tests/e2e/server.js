// Starts the telegram-test-api emulator for tests/test_e2e_emulator.py.
//
// Usage: node server.js [port]   (no port, or 0: the system picks a free one)
// Prints one line of JSON once listening: {"port": N}. Stops on SIGTERM/SIGINT, and when its
// stdin closes, so an emulator never outlives the test that started it.
'use strict';

const TelegramServer = require('telegram-test-api');

async function main() {
  const port = Number(process.argv[2] || 0);
  // The emulator turns port 0 into its default 9000, so it gets a placeholder here and the
  // requested port (0: any free one) just before listening.
  const server = new TelegramServer({
    port: port || 1, host: '127.0.0.1', storage: 'RAM', storeTimeout: 60,
  });
  server.config.port = port;
  await server.start();
  const actual = server.server.address().port;
  process.stdout.write(`${JSON.stringify({ port: actual })}\n`);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    const timer = setTimeout(() => process.exit(0), 2000);
    try {
      await server.stop();
    } finally {
      clearTimeout(timer);
      process.exit(0);
    }
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
}

main().catch((error) => {
  process.stderr.write(`emulator failed to start: ${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
