/**
 * IPv6 address text, shared by the capture decoder (addresses read from IP
 * headers) and netcode (addresses read from connect tokens), so the two print
 * the same address the same way.
 */

/**
 * RFC 5952 §4: eight 16-bit groups in lowercase hex without leading zeros,
 * the longest run of two or more zero groups (the first one on a tie) as `::`.
 */
export function ipv6GroupsText(groups: readonly number[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hexGroups = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hexGroups.join(':');
  return `${hexGroups.slice(0, bestStart).join(':')}::${hexGroups.slice(bestStart + bestLength).join(':')}`;
}
