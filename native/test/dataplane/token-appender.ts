import { createSocket, type Socket } from 'node:dgram';

/**
 * The client side of token routing, as a game client's local proxy does it
 * (Quilkin's client proxy with a Concatenate filter): the game talks to this
 * relay as if it were the server; the relay appends the routing token to each
 * datagram and sends it on from a socket of its own, and hands the replies
 * back unchanged. One relay serves one game client.
 */
export interface TokenAppender {
  /** Where the game client sends (loopback). */
  readonly port: number;
  /** Datagrams relayed each way. */
  readonly relayed: { forward: number; reverse: number };
  /** Appends these bytes from now on (empty: none, as a client that lost its token). */
  setToken(token: Uint8Array): void;
  close(): Promise<void>;
}

function bound(): Promise<Socket> {
  const socket = createSocket('udp4');
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => resolve(socket));
  });
}

export async function startTokenAppender(
  target: { readonly address: string; readonly port: number },
  token: Uint8Array,
): Promise<TokenAppender> {
  const front = await bound();
  const back = await bound();
  let suffix = Uint8Array.from(token);
  let game: { address: string; port: number } | null = null;
  const relayed = { forward: 0, reverse: 0 };
  front.on('message', (data, from) => {
    game = { address: from.address, port: from.port };
    relayed.forward++;
    back.send(Buffer.concat([data, suffix]), target.port, target.address);
  });
  back.on('message', (data) => {
    if (game === null) return;
    relayed.reverse++;
    front.send(data, game.port, game.address);
  });
  return {
    port: front.address().port,
    relayed,
    setToken(next) {
      suffix = Uint8Array.from(next);
    },
    async close() {
      await Promise.all(
        [front, back].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
      );
    },
  };
}
