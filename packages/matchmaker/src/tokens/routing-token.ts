/**
 * The routing-token format lives in @gamemesh/core, shared with the node
 * proxy that verifies what the matchmaker issues: one implementation, so the
 * two cannot drift apart.
 */
export {
  ROUTING_TOKEN_BYTES,
  ROUTING_TOKEN_CODES,
  type RoutingTokenCheck,
  type RoutingTokenCode,
  signRoutingToken,
  verifyRoutingToken,
} from '@gamemesh/core';
