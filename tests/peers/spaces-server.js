// A Socket.IO 2.0.4 server scripted like the Avaya Spaces socket server, for the tests.
//
//   node spaces-server.js '{"pingInterval":300,"pingTimeout":600,"tokens":["good"],"rootAck":false}'
//
// With `authUrl` (a REST endpoint, such as the simulator's `/api/users/me`) a token is good if
// that endpoint accepts it (`Authorization: jwt|bearer <token>`), so tokens the simulator issues,
// renews and expires are this server's too; with `expiry: "close"` every connection's token is
// checked again each 200 ms and the connection closed once it is refused (the second reading of
// what Spaces does when a token expires on an open socket).
//
// Like Spaces: namespace /chat, token checked from the query by a /chat middleware that is
// registered after attach and is asynchronous (this reproduces socket.io 2.0.4's missing `40`
// and its dropping of events sent before the namespace ack), SUBSCRIBE_CHANNEL answered with
// CHANNEL_SUBSCRIBED or SUBSCRIBE_CHANNEL_FAILED, UNSUBSCRIBE_CHANNEL, SEND_MEDIA_SESSION_EVENTS
// relayed as MEDIA_SESSION_RESPONSE.
//
// Reports on stdout, one JSON object per line ({"ev": ...}); takes commands on stdin, one JSON
// object per line ({"cmd": ...}), and answers each with {"ev":"ok","cmd":...} once done.
'use strict';

const http = require('http');
const readline = require('readline');

const opts = Object.assign(
  { port: 0, pingInterval: 25000, pingTimeout: 60000, tokens: ['good'], authDelayMs: 20 },
  JSON.parse(process.argv[2] || '{}'),
);
let tokens = new Set(opts.tokens);
const report = (ev) => process.stdout.write(JSON.stringify(ev) + '\n');

const server = http.createServer();
let refuseUntil = 0; // time until which new connections are refused (the `away` command)
const io = require('socket.io')(server, {
  wsEngine: 'ws',
  pingInterval: opts.pingInterval,
  pingTimeout: opts.pingTimeout,
  allowRequest: (req, callback) => callback(null, Date.now() >= refuseUntil),
});
const chat = io.of('/chat');
const silentUntil = new WeakMap(); // engine socket -> time until which it sends nothing

io.eio.on('connection', (conn) => {
  report({ ev: 'engine_connection', sid: conn.id });
  // `rootAck`: send the `40` for `/` that the bug above withholds, for clients that wait for it
  // (python-socketio 4.x never connects `/chat` without it: the benchmarks need it).
  if (opts.rootAck) conn.sendPacket('message', '0');
  conn.on('packet', (p) => { if (p.type === 'ping') report({ ev: 'ping', sid: conn.id }); });
  conn.on('close', (reason) => report({ ev: 'engine_close', sid: conn.id, reason }));
  const send = conn.sendPacket.bind(conn);
  conn.sendPacket = (...args) => { if (Date.now() >= (silentUntil.get(conn) || 0)) send(...args); };
});

// Whether `query`'s token is good: in `tokens`, or accepted by `authUrl`.
const accepted = (q, callback) => {
  const typed = q.tokenType === 'jwt' || q.tokenType === 'oauth';
  if (!typed || !q.token) return callback(false);
  if (!opts.authUrl) return callback(tokens.has(q.token));
  const scheme = q.tokenType === 'oauth' ? 'bearer' : 'jwt';
  http.get(opts.authUrl, { headers: { authorization: `${scheme} ${q.token}` } }, (res) => {
    res.resume();
    callback(res.statusCode === 200);
  }).on('error', () => callback(false));
};

// After attach, asynchronous: as on the real server (see the module comment).
chat.use((socket, next) => {
  const q = socket.handshake.query;
  setTimeout(() => accepted(q, (ok) => {
    if (ok) return next();
    report({ ev: 'rejected', sid: socket.conn.id });
    next(new Error('Not authorized'));
  }), opts.authDelayMs);
});

if (opts.expiry === 'close') {
  setInterval(() => Object.values(chat.connected).forEach((socket) => {
    accepted(socket.handshake.query, (ok) => {
      if (ok || !socket.connected) return;
      report({ ev: 'expired', sid: socket.conn.id });
      socket.disconnect(true);
    });
  }), 200);
}

chat.on('connection', (socket) => {
  report({
    ev: 'connection', sid: socket.conn.id, tokenType: socket.handshake.query.tokenType,
    origin: socket.handshake.headers.origin || null,
  });
  socket.on('SUBSCRIBE_CHANNEL', (payload) => {
    const channel = payload && payload.channel;
    report({ ev: 'subscribe', sid: socket.conn.id, space: channel && channel._id });
    if (channel && typeof channel._id === 'string' && channel._id.startsWith('silent')) {
      return; // never answered: for tests of waiting clients
    }
    if (!channel || typeof channel._id !== 'string') {
      socket.emit('SUBSCRIBE_CHANNEL_FAILED', {
        channel: channel || {}, error: { code: 'invalid.parameters', message: 'channel data was not provided' },
      });
    } else if (channel._id.startsWith('refused')) {
      socket.emit('SUBSCRIBE_CHANNEL_FAILED', {
        channel, error: { code: 'not.a.member', message: 'user is not a member of the space' },
      });
    } else {
      socket.join(channel._id);
      socket.emit('CHANNEL_SUBSCRIBED', { channel, dtsid: '1234', sessionId: socket.id });
    }
  });
  socket.on('UNSUBSCRIBE_CHANNEL', (payload) => {
    const channel = (payload && payload.channel) || {};
    report({ ev: 'unsubscribe', sid: socket.conn.id, space: channel._id });
    socket.leave(channel._id);
    socket.emit('CHANNEL_UNSUBSCRIBED', { channel });
  });
  socket.on('SEND_MEDIA_SESSION_EVENTS', (payload) => {
    report({ ev: 'send_media', sid: socket.conn.id, payload });
    chat.to(payload.topicId).emit('MEDIA_SESSION_RESPONSE',
      Object.assign({ sender: { _id: 'user-' + socket.conn.id, type: 'user' } }, payload));
  });
  socket.on('disconnect', (reason) => report({ ev: 'disconnect', sid: socket.conn.id, reason }));
});

const engines = () => Object.values(io.eio.clients);
const commands = {
  // Emit an event to a space's subscribers: {space, event, payload}.
  emit: (c) => chat.to(c.space).emit(c.event, c.payload),
  // Emit {count} copies of {payload} (or of {payloads} in turn), with `_id` `burst-<n>`, to a
  // space, as fast as possible.
  burst: (c) => {
    const payloads = c.payloads || [c.payload];
    for (let n = 0; n < c.count; n++) {
      const payload = Object.assign({}, payloads[n % payloads.length], { _id: `burst-${n}`, topicId: c.space });
      chat.to(c.space).emit('MEDIA_SESSION_RESPONSE', payload);
    }
  },
  // Send a raw Socket.IO packet (the text after the engine `4`) to every connection: {data}.
  raw: (c) => engines().forEach((conn) => conn.sendPacket('message', c.data)),
  // Close every engine connection (the client sees a transport close).
  drop: () => engines().forEach((conn) => conn.close()),
  // Close every engine connection and refuse new ones for {ms}: the clients miss what is
  // emitted meanwhile.
  away: (c) => { refuseUntil = Date.now() + c.ms; engines().forEach((conn) => conn.close()); },
  // Disconnect every /chat socket from the server side (`41/chat,`).
  nsp_disconnect: () => Object.values(chat.connected).forEach((s) => s.disconnect()),
  // Send nothing at all, pongs included, for {ms}.
  silence: (c) => engines().forEach((conn) => silentUntil.set(conn, Date.now() + c.ms)),
  // Replace the accepted tokens: {tokens}.
  tokens: (c) => { tokens = new Set(c.tokens); },
  stats: () => report({ ev: 'stats', engines: engines().length, sockets: Object.keys(chat.connected).length }),
};

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (!line.trim()) return;
  const c = JSON.parse(line);
  commands[c.cmd](c);
  report({ ev: 'ok', cmd: c.cmd });
}).on('close', () => process.exit(0));

server.listen(opts.port, '127.0.0.1', () => report({ ev: 'listening', port: server.address().port }));
