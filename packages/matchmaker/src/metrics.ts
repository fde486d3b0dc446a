import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Matchmaker metrics on a private registry (DESIGN.md "Observability").
 * Labels are bounded: pool and cluster names come from config, reasons from
 * fixed tables — never ticket, player or node ids.
 */
export class MatchmakerMetrics {
  readonly registry = new Registry();
  readonly ticketsCreated = this.counter('tickets_created_total', 'Tickets accepted.', ['pool']);
  readonly ticketsMatched = this.counter('tickets_matched_total', 'Tickets placed into a match.', [
    'pool',
  ]);
  readonly ticketsAssigned = this.counter(
    'tickets_assigned_total',
    'Tickets that received an assignment (after the node proxy acknowledged it).',
    ['pool'],
  );
  readonly ticketsExpired = this.counter(
    'tickets_expired_total',
    'Tickets that reached their TTL.',
    ['pool'],
  );
  readonly ticketsCancelled = this.counter(
    'tickets_cancelled_total',
    'Tickets deleted by clients.',
    ['pool'],
  );
  readonly poolTickets = new Gauge({
    name: 'gamemesh_matchmaker_pool_tickets',
    help: 'Queued tickets per pool, as of the last matching round.',
    labelNames: ['pool'],
    registers: [this.registry],
  });
  readonly ticketToAssignment = new Histogram({
    name: 'gamemesh_matchmaker_ticket_to_assignment_seconds',
    help: 'Time from ticket creation to its assignment.',
    labelNames: ['pool'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly roundDelay = new Histogram({
    name: 'gamemesh_matchmaker_round_delay_seconds',
    help: 'How late a scheduled matching round started against its fixed cadence (event-loop stalls, overrunning rounds).',
    labelNames: ['pool'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly roundDuration = new Histogram({
    name: 'gamemesh_matchmaker_round_seconds',
    help: 'A scheduled matching round from its start until its tickets are claimed (allocations continue after).',
    labelNames: ['pool'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly matches = this.counter('matches_total', 'Matches allocated, by pool and cluster.', [
    'pool',
    'cluster',
  ]);
  readonly allocations = this.counter(
    'allocations_total',
    'Pod reservations confirmed, by cluster and kind (match or backfill).',
    ['cluster', 'kind'],
  );
  readonly allocationFailures = this.counter(
    'allocation_failures_total',
    'Allocation attempts that did not produce an assignment, by reason.',
    ['reason'],
  );
  readonly reservationsExpired = this.counter(
    'reservations_expired_total',
    'Reservations released because they were never confirmed.',
    [],
  );
  readonly linkConnections = new Gauge({
    name: 'gamemesh_matchmaker_link_connections',
    help: 'Node proxies connected over the link.',
    registers: [this.registry],
  });
  readonly linkEvents = this.counter(
    'link_events_total',
    'Link connection events: connected, disconnected, rejected (auth), bad_frame, heartbeat_missed.',
    ['event'],
  );

  private counter<L extends string>(name: string, help: string, labelNames: L[]): Counter<L> {
    return new Counter({
      name: `gamemesh_matchmaker_${name}`,
      help,
      labelNames,
      registers: [this.registry],
    });
  }
}
