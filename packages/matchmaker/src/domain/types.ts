/** Matchmaker domain records. Plain data: stores encode them with msgpackr. */

export type AttributeValue = number | string;

export interface Player {
  readonly id: string;
  readonly attributes: Readonly<Record<string, AttributeValue>>;
}

export type TicketState = 'queued' | 'matched' | 'assigned' | 'expired' | 'cancelled';

export const FINAL_STATES: ReadonlySet<TicketState> = new Set(['assigned', 'expired', 'cancelled']);

export interface PlayerAssignment {
  readonly playerId: string;
  /** What the player presents to the node proxy (kind depends on the pool). */
  readonly token: string;
  /** The routing key the node proxy was told about for this player. */
  readonly routingKey: string;
}

export interface Assignment {
  /** `ip:port` of the node proxy the players send to. */
  readonly connection: string;
  readonly protocol: string;
  /** The first player's token; every player's is in `players`. */
  readonly token: string;
  readonly tokenKind: TokenKind;
  /** Unix milliseconds after which the proxy forgets the assignment. */
  readonly expiresAt: number;
  readonly cluster: string;
  readonly matchId: string;
  readonly players: readonly PlayerAssignment[];
}

export interface Ticket {
  readonly id: string;
  readonly pool: string;
  readonly players: readonly Player[];
  readonly party: string | null;
  /** Round-trip milliseconds per cluster name or region name. */
  readonly latencies: Readonly<Record<string, number>>;
  /** Bearer subject that created the ticket; null for API-key callers. */
  readonly owner: string | null;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly state: TicketState;
  readonly matchId: string | null;
  readonly assignment: Assignment | null;
  readonly updatedAt: number;
}

export type TokenKind = 'routing' | 'netcode' | 'protocol-key';

/** Game protocols a pod can speak; `any` pools accept every pod. */
export const POD_PROTOCOLS = ['netcode', 'kcp', 'rtp', 'raknet', 'udp'] as const;
export type PodProtocol = (typeof POD_PROTOCOLS)[number];

export interface Cluster {
  readonly name: string;
  readonly region: string;
  /** Lower is preferred (as in Agones allocation policies). */
  readonly priority: number;
  /** Relative share among clusters of equal latency bucket and priority. */
  readonly weight: number;
}

export interface Pod {
  /** Unique within its node. */
  readonly id: string;
  readonly address: string;
  readonly port: number;
  readonly protocol: PodProtocol;
  readonly capacity: number;
  /** Free player slots as the proxy sees them (already net of assignments it acknowledged). */
  readonly freeSlots: number;
  /** Slots open for backfill in the session the pod is already running. */
  readonly backfillSlots: number;
  /** Match id of the running session backfill joins, if the pod names one. */
  readonly sessionId: string | null;
  readonly labels: Readonly<Record<string, string>>;
  readonly draining: boolean;
}

export interface NodeProxy {
  readonly id: string;
  readonly cluster: string;
  readonly region: string;
  /** `ip:port` players send to. */
  readonly publicAddress: string;
  readonly pods: readonly Pod[];
  /** Unix ms of the last heartbeat; nodes past the heartbeat timeout are drained. */
  readonly lastSeen: number;
  readonly connected: boolean;
  readonly draining: boolean;
}

/** A global reference to one pod. */
export interface PodRef {
  readonly node: string;
  readonly pod: string;
}

export interface Reservation {
  readonly id: string;
  readonly ref: PodRef;
  readonly players: number;
  readonly kind: 'match' | 'backfill';
  /** Unix ms: an unconfirmed reservation older than this is released. */
  readonly expiresAt: number;
}

/** What the node proxy is told: routing key → pod, until expiresAt. */
export interface RouteAssignment {
  readonly key: string;
  readonly kind: TokenKind;
  readonly pod: string;
  readonly protocol: string;
  readonly matchId: string;
  readonly playerId: string;
  readonly expiresAt: number;
}
