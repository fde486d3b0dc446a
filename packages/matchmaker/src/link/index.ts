/** What a node proxy needs to talk to the matchmaker. */

export type { RouteAssignment } from '../domain/types.js';
export {
  ROUTING_TOKEN_BYTES,
  type RoutingTokenCheck,
  signRoutingToken,
  verifyRoutingToken,
} from '../tokens/routing-token.js';
export { LINK_HEADERS, linkAuthHeaders, verifyLinkAuth } from './auth.js';
export {
  LinkClient,
  type LinkClientEvents,
  type LinkClientOptions,
  type LinkNode,
} from './client.js';
export {
  type ClientFrame,
  decodeClientFrame,
  decodeServerFrame,
  encodeFrame,
  LINK_PATH,
  LINK_VERSION,
  type PodReport,
  type ServerFrame,
} from './frames.js';
