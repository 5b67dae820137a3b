// The Socket.IO 4 peer's server: every setting its default but the
// transport (websocket only, as its clients use); the "echo" event is
// acknowledged with the {text} it carried, decoded and encoded again by
// Socket.IO's parser as duplex decodes and encodes a typed call. Its first
// line is {"addr", "pid"}; it answers "stats" and "gc" with its
// connection count and memory, as wsbench's Go servers do.

import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { commands, emit, fail, rss } from './lines.mjs';

const http = createServer();
const io = new Server(http, { transports: ['websocket'], serveClient: false });
let conns = 0;
io.on('connection', (socket) => {
  conns++;
  socket.on('disconnect', () => conns--);
  socket.on('echo', (args, ack) => {
    if (typeof ack === 'function') ack({ text: args && args.text });
  });
});
http.on('error', fail);
http.listen(0, '127.0.0.1', () => {
  emit({ addr: `127.0.0.1:${http.address().port}`, pid: process.pid });
  commands((cmd) => {
    switch (cmd.op) {
      case 'gc':
        globalThis.gc?.();
      // fall through
      case 'stats': {
        const m = process.memoryUsage();
        emit({ conns, rss: rss(), heap_inuse: m.heapUsed, sys: m.rss, goroutines: 0 });
        break;
      }
      default:
        fail(new Error(`unknown command ${JSON.stringify(cmd.op)}`));
    }
  });
});
