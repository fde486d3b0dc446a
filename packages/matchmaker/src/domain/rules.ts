import type { PoolConfig } from '../config.js';
import { latencyAllows } from './latency.js';
import type { Cluster, Ticket } from './types.js';

/** One match a match function proposes: tickets split into teams (ticket ids). */
export interface MatchProposal {
  readonly teams: readonly (readonly string[])[];
}

export interface MatchFunctionInput {
  readonly pool: PoolConfig;
  /** Queued tickets of the pool, oldest first. */
  readonly tickets: readonly Ticket[];
  readonly clusters: readonly Cluster[];
  /** Unix ms, the clock the matchmaker runs on. */
  readonly now: number;
}

/**
 * A match function: the built-in rule engine or a module named in the pool's
 * `matchFunction`. Proposals are validated by the matchmaker (unknown or
 * already-used tickets are dropped), so a faulty function cannot double-book.
 */
export type MatchFunction = (
  input: MatchFunctionInput,
) => readonly MatchProposal[] | Promise<readonly MatchProposal[]>;

/** A ticket's value for a numeric attribute: the mean over its players (a party plays as one). */
function numericValue(ticket: Ticket, attribute: string): number | undefined {
  let sum = 0;
  let count = 0;
  for (const player of ticket.players) {
    const value = player.attributes[attribute];
    if (typeof value === 'number' && Number.isFinite(value)) {
      sum += value;
      count++;
    }
  }
  return count === 0 ? undefined : sum / count;
}

/** A ticket's value for an attribute that must be equal across the match (e.g. game mode). */
function sharedValue(ticket: Ticket, attribute: string): string | undefined {
  const value = ticket.players[0]?.attributes[attribute];
  return value === undefined ? undefined : String(value);
}

/** Window half-width after the anchor has waited `waitedMs`: windows widen linearly up to `max`. */
export function windowWidth(window: PoolConfig['windows'][number], waitedMs: number): number {
  const widened = window.initial + (window.widenPerSecond * Math.max(0, waitedMs)) / 1000;
  return window.max === undefined ? widened : Math.min(window.max, widened);
}

/**
 * First-fit-decreasing placement of parties into teams. Returns ticket ids per
 * team, or null when some party cannot be placed without splitting it.
 */
export function placeIntoTeams(
  tickets: readonly Ticket[],
  teamCount: number,
  teamSize: number,
): string[][] | null {
  const teams: string[][] = Array.from({ length: teamCount }, () => []);
  const sizes: number[] = new Array(teamCount).fill(0);
  const bySize = [...tickets].sort((a, b) => b.players.length - a.players.length);
  for (const ticket of bySize) {
    let best = -1;
    for (let t = 0; t < teamCount; t++) {
      const size = sizes[t] ?? 0;
      if (size + ticket.players.length > teamSize) continue;
      // The emptiest team keeps teams balanced.
      if (best === -1 || size < (sizes[best] ?? 0)) best = t;
    }
    if (best === -1) return null;
    teams[best]?.push(ticket.id);
    sizes[best] = (sizes[best] ?? 0) + ticket.players.length;
  }
  return teams;
}

interface WindowCenter {
  readonly attribute: string;
  readonly center: number | undefined;
  readonly half: number;
}

function sharesValues(
  candidate: Ticket,
  shared: readonly { readonly name: string; readonly value: string | undefined }[],
): boolean {
  for (const s of shared) if (sharedValue(candidate, s.name) !== s.value) return false;
  return true;
}

function withinWindows(candidate: Ticket, centers: readonly WindowCenter[]): boolean {
  for (const { attribute, center, half } of centers) {
    const value = numericValue(candidate, attribute);
    if (center === undefined || value === undefined) {
      if (center !== value) return false;
    } else if (Math.abs(value - center) > half) return false;
  }
  return true;
}

/**
 * The built-in rule engine. The oldest waiting ticket anchors each match;
 * its attribute windows widen with its waiting time, so it is never starved.
 * Candidates join while they fit the windows, the equal-attribute rules, a
 * common cluster under the latency limit and the team sizes.
 */
export const ruleEngine: MatchFunction = ({ pool, tickets, clusters, now }) => {
  const full = pool.teams.count * pool.teams.size;
  const maxPlayers = pool.maxPlayers ?? full;
  const minPlayers = pool.minPlayers ?? maxPlayers;
  const used = new Set<string>();
  const proposals: MatchProposal[] = [];
  const eligible = (ticket: Ticket): Cluster[] =>
    clusters.filter((c) => latencyAllows(ticket, c, pool.maxLatencyMs));

  for (let a = 0; a < tickets.length; a++) {
    const anchor = tickets[a]!;
    if (used.has(anchor.id)) continue;
    let common = eligible(anchor);
    if (common.length === 0) continue;
    const waited = now - anchor.createdAt;
    const centers: WindowCenter[] = pool.windows.map((w) => ({
      attribute: w.attribute,
      center: numericValue(anchor, w.attribute),
      half: windowWidth(w, waited),
    }));
    const shared = pool.sameAttributes.map((name) => ({ name, value: sharedValue(anchor, name) }));
    const group: Ticket[] = [anchor];
    let players = anchor.players.length;
    // Solo tickets always fit while their count is within the team slots, so
    // the trial placement is needed only once a party is involved.
    let allSolo = anchor.players.length === 1;

    for (let c = a + 1; c < tickets.length && players < maxPlayers; c++) {
      const candidate = tickets[c]!;
      if (used.has(candidate.id)) continue;
      if (players + candidate.players.length > maxPlayers) continue;
      if (!sharesValues(candidate, shared) || !withinWindows(candidate, centers)) continue;
      const nextCommon = common.filter((cluster) =>
        latencyAllows(candidate, cluster, pool.maxLatencyMs),
      );
      if (nextCommon.length === 0) continue;
      const solo = allSolo && candidate.players.length === 1 && group.length < full;
      if (
        !solo &&
        placeIntoTeams([...group, candidate], pool.teams.count, pool.teams.size) === null
      )
        continue;
      group.push(candidate);
      common = nextCommon;
      players += candidate.players.length;
      allSolo = solo;
    }
    if (players < minPlayers) continue;
    const teams = placeIntoTeams(group, pool.teams.count, pool.teams.size);
    if (teams === null) continue;
    for (const ticket of group) used.add(ticket.id);
    proposals.push({ teams });
  }
  return proposals;
};
