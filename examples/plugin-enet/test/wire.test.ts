import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ACK_RECEIVED_SENT_TIME,
  COMMAND_COUNT,
  COMMAND_FLAG_ACKNOWLEDGE,
  COMMAND_FLAG_UNSEQUENCED,
  COMMAND_HEADER_SIZE,
  COMMAND_MASK,
  COMMAND_SIZES,
  CONNECT_CHANNEL_COUNT,
  CONNECT_CONNECT_ID,
  CONNECT_MTU,
  Command,
  HEADER_FLAG_COMPRESSED,
  HEADER_FLAG_SENT_TIME,
  HEADER_SESSION_MASK,
  HEADER_SIZE_WITH_SENT_TIME,
  MAXIMUM_CHANNEL_COUNT,
  MAXIMUM_MTU,
  MAXIMUM_PACKET_COMMANDS,
  MAXIMUM_WINDOW_SIZE,
  MINIMUM_MTU,
  MINIMUM_WINDOW_SIZE,
  NO_PEER_ID,
} from '../src/protocol.js';
import { compileAgainstLibenet } from './support/enet-session.js';

// The tables in src/protocol.ts against the installed libenet's protocol.h,
// read by the C compiler (test/peer/sizes.c), not by eye.
function libenetWireFacts(): Map<string, number> {
  const dir = mkdtempSync(join(tmpdir(), 'gamemesh-enet-sizes-'));
  try {
    const output = execFileSync(compileAgainstLibenet('sizes', dir), { encoding: 'utf8' });
    return new Map(
      output
        .trim()
        .split('\n')
        .map((line) => line.split(' '))
        .map(([name, value]) => [name!, Number(value)]),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const facts = libenetWireFacts();
const fact = (name: string): number => {
  const value = facts.get(name);
  if (value === undefined) throw new Error(`sizes.c printed no ${name}`);
  return value;
};

test('every command size matches sizeof() of the packed struct in protocol.h', () => {
  for (const [name, number] of Object.entries(Command)) {
    assert.is(COMMAND_SIZES[number], fact(name), name);
  }
  assert.is(COMMAND_SIZES.length, fact('command_count'));
  assert.is(COMMAND_COUNT, fact('command_count'));
  assert.is(COMMAND_HEADER_SIZE, fact('command_header'));
  assert.is(HEADER_SIZE_WITH_SENT_TIME, fact('header'));
});

test('flags, masks and ranges match protocol.h', () => {
  assert.is(COMMAND_MASK, fact('command_mask'));
  assert.is(COMMAND_FLAG_ACKNOWLEDGE, fact('flag_acknowledge'));
  assert.is(COMMAND_FLAG_UNSEQUENCED, fact('flag_unsequenced'));
  assert.is(HEADER_FLAG_COMPRESSED, fact('header_flag_compressed'));
  assert.is(HEADER_FLAG_SENT_TIME, fact('header_flag_sent_time'));
  assert.is(HEADER_SESSION_MASK, fact('header_session_mask'));
  assert.is(MINIMUM_MTU, fact('minimum_mtu'));
  assert.is(MAXIMUM_MTU, fact('maximum_mtu'));
  assert.is(MAXIMUM_PACKET_COMMANDS, fact('maximum_packet_commands'));
  assert.is(MINIMUM_WINDOW_SIZE, fact('minimum_window_size'));
  assert.is(MAXIMUM_WINDOW_SIZE, fact('maximum_window_size'));
  assert.is(MAXIMUM_CHANNEL_COUNT, fact('maximum_channel_count'));
  assert.is(NO_PEER_ID, fact('maximum_peer_id'));
});

test('field offsets match offsetof() in protocol.h', () => {
  assert.is(CONNECT_CONNECT_ID, fact('connect_id_offset'));
  assert.is(CONNECT_CONNECT_ID, fact('verify_connect_id_offset'));
  assert.is(CONNECT_MTU, fact('connect_mtu_offset'));
  assert.is(CONNECT_CHANNEL_COUNT, fact('connect_channel_count_offset'));
  assert.is(ACK_RECEIVED_SENT_TIME, fact('ack_received_sent_time_offset'));
});

test.run();
