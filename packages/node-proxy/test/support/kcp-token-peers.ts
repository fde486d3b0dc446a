import { importSiblingTest } from './sibling-tests.js';

type KcpPairModule = typeof import('../../../../native/test/dataplane/kcp-pair.js');
type TokenAppenderModule = typeof import('../../../../native/test/dataplane/token-appender.js');

/** The real peers of a token-mode flow, shared with native/test so both drive the same code. */
export interface KcpTokenPeers {
  /** A node-kcp client/server pair (the game and its pod). */
  readonly startKcpPair: KcpPairModule['startKcpPair'];
  /** A relay appending a routing token to each client datagram, as a client-side proxy would. */
  readonly startTokenAppender: TokenAppenderModule['startTokenAppender'];
}

export async function importKcpTokenPeers(): Promise<KcpTokenPeers> {
  const { startKcpPair } = await importSiblingTest<KcpPairModule>('native', 'dataplane/kcp-pair');
  const { startTokenAppender } = await importSiblingTest<TokenAppenderModule>(
    'native',
    'dataplane/token-appender',
  );
  return { startKcpPair, startTokenAppender };
}
