// socket.io-client 2.0.4 against the loopback pusher (benches/loopback.rs), run by `cargo xtask bench`
// with NODE_PATH=tests/peers/node_modules:
//
//   node node_client.js events URL COUNT        {"count","seconds","latency_us":[...]}
//   node node_client.js jsonl URL COUNT         each payload as a JSON line (as `watch --format jsonl`)
//   node node_client.js idle URL CONNECTIONS    {"connections","rss_before_kib","rss_after_kib","per_connection_kib"}
'use strict';

const io = require('socket.io-client');

const [mode, url, n] = process.argv.slice(2);
const count = Number(n);
const nowUs = () => Number(process.hrtime.bigint() / 1000n); // CLOCK_MONOTONIC, as the pusher
const rssKib = () => { if (global.gc) global.gc(); return process.memoryUsage().rss / 1024; };

// One subscribed connection; `onEvent` receives each MEDIA_SESSION_RESPONSE payload.
function subscribe(onEvent, onSubscribed) {
  const socket = io(url, {
    transports: ['websocket'], forceNew: true, query: { token: 'bench-token', tokenType: 'jwt' },
  });
  socket.on('connect', () => socket.emit('SUBSCRIBE_CHANNEL', { channel: { _id: 'space-0', type: 'topic' } }));
  socket.on('CHANNEL_SUBSCRIBED', () => onSubscribed(socket));
  socket.on('MEDIA_SESSION_RESPONSE', onEvent);
  return socket;
}

if (mode === 'events') {
  const tally = { count: 0, first: 0n, last: 0n, latency_us: [] };
  const socket = subscribe((p) => {
    const now = process.hrtime.bigint();
    if (tally.count === 0) tally.first = now;
    tally.last = now;
    tally.count += 1;
    if (p.category && /^\d+$/.test(p._id)) tally.latency_us.push(Number(now / 1000n) - Number(p._id));
    if (tally.count === count) {
      const seconds = Number(tally.last - tally.first) / 1e9;
      process.stdout.write(JSON.stringify({ count, seconds, latency_us: tally.latency_us }) + '\n');
      socket.close();
      process.exit(0);
    }
  }, () => {});
} else if (mode === 'jsonl') {
  let seen = 0;
  const socket = subscribe((p) => {
    seen += 1;
    process.stdout.write(JSON.stringify(p) + '\n');
    if (seen === count) {
      socket.close();
      process.stdout.write('', () => process.exit(0));
    }
  }, () => {});
} else if (mode === 'idle') {
  const before = rssKib();
  let subscribed = 0;
  const sockets = [];
  const next = () => {
    if (sockets.length === count) return;
    sockets.push(subscribe(() => {}, () => {
      subscribed += 1;
      if (subscribed < count) return next();
      setTimeout(() => {
        const after = rssKib();
        process.stdout.write(JSON.stringify({
          connections: count, rss_before_kib: before, rss_after_kib: after, per_connection_kib: (after - before) / count,
        }) + '\n');
        process.exit(0);
      }, 1000);
    }));
  };
  next();
} else {
  process.stderr.write('usage: node node_client.js events|idle URL N\n');
  process.exit(2);
}
void nowUs;
