// pcap files for fixtures and captures: read with the pcap-parser package (an independent
// reader, so a fixture written by scapy or tcpdump is checked by someone else's parser) and
// written in the classic libpcap 2.4 format, Ethernet link type.
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

interface PcapPacket {
  header: { timestampSeconds: number; timestampMicroseconds: number; capturedLength: number; originalLength: number };
  data: Buffer;
}
interface PcapParser {
  on(ev: 'packet', f: (p: PcapPacket) => void): PcapParser;
  on(ev: 'globalHeader', f: (h: { linkLayerType: number }) => void): PcapParser;
  on(ev: 'end', f: () => void): PcapParser;
  on(ev: 'error', f: (e: Error) => void): PcapParser;
}
const pcapParser = createRequire(import.meta.url)('pcap-parser') as { parse(input: string | NodeJS.ReadableStream): PcapParser };

export interface PcapRecord {
  data: Buffer;
  /** seconds since the epoch, with microseconds */
  time: number;
}

export const LINKTYPE_ETHERNET = 1;

/** All records of a pcap file, in order. */
export function readPcap(path: string): Promise<PcapRecord[]> {
  return new Promise((resolve, reject) => {
    const out: PcapRecord[] = [];
    let linkType = LINKTYPE_ETHERNET;
    pcapParser
      .parse(path)
      .on('globalHeader', (h) => (linkType = h.linkLayerType))
      .on('packet', (p) => out.push({ data: Buffer.from(p.data), time: p.header.timestampSeconds + p.header.timestampMicroseconds / 1e6 }))
      .on('error', reject)
      .on('end', () => (linkType === LINKTYPE_ETHERNET ? resolve(out) : reject(new Error(`${path}: link type ${linkType} is not Ethernet`))));
  });
}

/** The frames of a pcap file. */
export async function readFrames(path: string): Promise<Buffer[]> {
  return (await readPcap(path)).map((r) => r.data);
}

/** A pcap file (little-endian, microsecond timestamps, snaplen 65535) holding the frames. */
export function encodePcap(frames: ReadonlyArray<Buffer | PcapRecord>): Buffer {
  const g = Buffer.alloc(24);
  g.writeUInt32LE(0xa1b2c3d4, 0);
  g.writeUInt16LE(2, 4);
  g.writeUInt16LE(4, 6);
  g.writeUInt32LE(65535, 16);
  g.writeUInt32LE(LINKTYPE_ETHERNET, 20);
  const parts: Buffer[] = [g];
  for (const f of frames) {
    const data = Buffer.isBuffer(f) ? f : f.data;
    const time = Buffer.isBuffer(f) ? 0 : f.time;
    const h = Buffer.alloc(16);
    h.writeUInt32LE(Math.floor(time), 0);
    h.writeUInt32LE(Math.round((time % 1) * 1e6), 4);
    h.writeUInt32LE(data.length, 8);
    h.writeUInt32LE(data.length, 12);
    parts.push(h, data);
  }
  return Buffer.concat(parts);
}

export function writePcap(path: string, frames: ReadonlyArray<Buffer | PcapRecord>): void {
  writeFileSync(path, encodePcap(frames));
}
