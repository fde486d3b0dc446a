/** The capture-reading and inspection API behind `gamemesh-inspect`. */
export { type ByteSource, memorySource, openFileSource } from './capture/cursor.js';
export { type CapturedDatagram, readUdpDatagrams } from './capture/datagrams.js';
export type { CapturedFrame, CaptureFormat } from './capture/frame.js';
export { decodeUdp, type UdpPacket } from './capture/ip.js';
export { locateIp } from './capture/link.js';
export { type CaptureSummary, readCapture } from './capture/reader.js';
export { INSPECT_ERRORS } from './errors.js';
export { type InspectOptions, type InspectResult, inspectCapture, inspectFile } from './inspect.js';
export { type FlowJson, flowJson } from './report.js';
