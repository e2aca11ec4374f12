// The reference client: socket.io-client 2.0.4, used the way Spaces apps use it, printing every
// MEDIA_SESSION_RESPONSE payload as one JSON line (and status lines on stderr).
//
//   node reference-client.js http://127.0.0.1:PORT/chat TOKEN SPACE [SPACE...]
//
// It re-subscribes on every namespace connect, as apps must do by hand with socket.io-client.
'use strict';

const [url, token, ...spaces] = process.argv.slice(2);
const socket = require('socket.io-client')(url, {
  transports: ['websocket'],
  query: { token, tokenType: 'jwt' },
  reconnectionDelay: 100,
  reconnectionDelayMax: 500,
});
socket.on('connect', () => {
  process.stderr.write('connected\n');
  spaces.forEach((id) => socket.emit('SUBSCRIBE_CHANNEL', { channel: { _id: id, type: 'topic' } }));
});
socket.on('CHANNEL_SUBSCRIBED', (p) => process.stderr.write(`subscribed ${p.channel._id}\n`));
socket.on('MEDIA_SESSION_RESPONSE', (p) => process.stdout.write(JSON.stringify(p) + '\n'));
socket.on('disconnect', (reason) => process.stderr.write(`disconnect ${reason}\n`));
process.stdin.on('end', () => process.exit(0)).resume();
