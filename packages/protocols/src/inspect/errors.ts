/**
 * Every error `gamemesh-inspect` reports, in one table. Codes are stable:
 * scripts match on them, so a code is never renamed or reused.
 * `test/inspect/errors.test.ts` checks that each code is documented in
 * docs/inspect.md.
 */
export const INSPECT_ERRORS = {
  GM_INSPECT_USAGE: 'the command line is invalid (unknown flag, missing or bad value)',
  GM_INSPECT_OPEN: 'the capture file cannot be opened or read',
  GM_INSPECT_UNKNOWN_FORMAT: 'the file starts with neither a pcap nor a pcapng magic number',
  GM_INSPECT_TRUNCATED: 'the capture ends in the middle of a header, record or block',
  GM_INSPECT_BAD_RECORD: 'a pcap record header is impossible (captured length beyond any snaplen)',
  GM_INSPECT_BAD_BLOCK: 'a pcapng block is malformed (length, byte-order magic, interface id)',
  GM_INSPECT_PLUGIN_LOAD: 'a --plugin module could not be imported',
  GM_INSPECT_PLUGIN_INVALID: 'a --plugin module exports neither a ProtocolFactory nor a Protocol',
  GM_INSPECT_PLUGIN_CREATE: 'a --plugin factory threw from create()',
  GM_INSPECT_DUPLICATE_PROTOCOL: 'two protocols (built-in or plugin) share a name',
  GM_INSPECT_PLUGIN_FAULT:
    'a protocol threw from probe, routingKey or its tracker; it was isolated',
} as const;

export type InspectErrorCode = keyof typeof INSPECT_ERRORS;

/** A failure as a value: what, where in the file (when it is about bytes), and details. */
export interface InspectError {
  readonly code: InspectErrorCode;
  /** Absolute byte offset in the capture file, when the error is about the file's bytes. */
  readonly offset: number | null;
  readonly message: string;
}

export function inspectError(
  code: InspectErrorCode,
  message: string,
  offset: number | null = null,
): InspectError {
  return { code, offset, message };
}

/** The text of anything thrown: plugins and I/O can throw values that are not Errors. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function formatInspectError(error: InspectError): string {
  const where = error.offset === null ? '' : ` at byte ${error.offset}`;
  return `${error.code}${where}: ${error.message}`;
}

/**
 * Why a captured packet did not become a datagram. Not errors: captures
 * legitimately hold other traffic. Counted and shown in the summary.
 */
export const SKIP_REASONS = {
  unsupported_link: 'the interface link type is not one gamemesh-inspect decodes',
  not_ip: 'the link layer carries something other than IPv4/IPv6',
  bad_link: 'the frame is shorter than its link-layer header',
  bad_ip: 'the IP header is malformed (version, header length, total length)',
  not_udp: 'the IP packet carries another transport (TCP, ICMP, ...)',
  fragment_first: 'first IP fragment of a datagram: the UDP payload is incomplete',
  fragment_later: 'non-first IP fragment: no UDP header to read',
  bad_udp: 'the UDP length field is smaller than 8 or larger than the IP payload',
  truncated: 'the capture snaplen cut the UDP payload (captured length < original length)',
  filtered: 'dropped by --udp-port',
} as const;

export type SkipReason = keyof typeof SKIP_REASONS;
