// Reads the subscriber import file: CSV with a header naming the columns (any order; unknown
// columns are ignored):
//   mac | vlan (IF:OUTER[:INNER]) | prefix   exactly one per row: how the end-user is matched
//   isp                                       the ISP's name
//   name                                      optional: the subscriber's name
//   deliver_interface, deliver_mac,           optional: the return path (the router file's
//   deliver_vlan (OUTER[:INNER]),             `deliver`); what is left out comes from the match
//   deliver_addresses (space-separated prefixes)
// Every bad row is reported with its line number; the API sees the file only when all rows are
// well-formed.
export interface CsvRow {
  mac?: string;
  vlan?: { interface: string; outer: number; inner?: number };
  prefix?: string;
  isp: string;
  name?: string;
  deliver?: { interface?: string; mac?: string; vlan?: { outer: number; inner?: number }; addresses?: string[] };
}

const MAC_RE = /^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$/;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** OUTER[:INNER] with ids 1..4094, or undefined. */
function vlanIds(s: string): { outer: number; inner?: number } | undefined {
  const m = /^(\d{1,4})(?::(\d{1,4}))?$/.exec(s);
  if (!m) return undefined;
  const outer = Number(m[1]);
  const inner = m[2] !== undefined ? Number(m[2]) : undefined;
  if (outer < 1 || outer > 4094 || (inner !== undefined && (inner < 1 || inner > 4094))) return undefined;
  return inner === undefined ? { outer } : { outer, inner };
}

export interface CsvResult {
  rows: CsvRow[];
  /** the file line of each row */
  lines: number[];
  errors: Array<{ line: number; message: string }>;
}

/** Split one CSV line; handles double-quoted fields with "" escapes. */
export function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"' && cur === '') quoted = true;
    else if (ch === ',') {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  out.push(cur.trim());
  return out;
}

export function parseSubscriberCsv(text: string): CsvResult {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const res: CsvResult = { rows: [], lines: [], errors: [] };
  let header: string[] | undefined;
  for (let n = 0; n < lines.length; n++) {
    const raw = lines[n]!;
    if (raw.trim() === '' || raw.trimStart().startsWith('#')) continue;
    const cells = splitCsvLine(raw);
    const line = n + 1;
    if (!header) {
      header = cells.map((c) => c.toLowerCase());
      const missing = ['isp'].filter((h) => !header!.includes(h));
      if (missing.length || !header.some((h) => h === 'mac' || h === 'vlan' || h === 'prefix')) {
        res.errors.push({ line, message: 'the header must name an isp column and at least one of mac, vlan, prefix' });
        return res;
      }
      continue;
    }
    const get = (h: string): string | undefined => {
      const i = header!.indexOf(h);
      const v = i >= 0 ? cells[i] : undefined;
      return v === undefined || v === '' ? undefined : v;
    };
    const isp = get('isp');
    const mac = get('mac');
    const vlan = get('vlan');
    const prefix = get('prefix');
    const n1 = [mac, vlan, prefix].filter((x) => x !== undefined).length;
    if (!isp) {
      res.errors.push({ line, message: 'isp is empty' });
      continue;
    }
    if (n1 !== 1) {
      res.errors.push({ line, message: 'give exactly one of mac, vlan, prefix' });
      continue;
    }
    const row: CsvRow = { isp };
    if (mac !== undefined) {
      if (!MAC_RE.test(mac)) {
        res.errors.push({ line, message: `'${mac}' is not a MAC address` });
        continue;
      }
      row.mac = mac.toLowerCase().replace(/-/g, ':');
    }
    if (vlan !== undefined) {
      const m = /^([^:]+):(\d{1,4})(?::(\d{1,4}))?$/.exec(vlan);
      const outer = m ? Number(m[2]) : 0;
      const inner = m?.[3] !== undefined ? Number(m[3]) : undefined;
      if (!m || outer < 1 || outer > 4094 || (inner !== undefined && (inner < 1 || inner > 4094))) {
        res.errors.push({ line, message: `'${vlan}' is not a VLAN match (IF:OUTER[:INNER], ids 1..4094)` });
        continue;
      }
      row.vlan = inner === undefined ? { interface: m[1]!, outer } : { interface: m[1]!, outer, inner };
    }
    if (prefix !== undefined) row.prefix = prefix;
    const name = get('name');
    if (name !== undefined) {
      if (!NAME_RE.test(name)) {
        res.errors.push({ line, message: `'${name}' is not a subscriber name (1..63 letters, digits, . _ -)` });
        continue;
      }
      row.name = name;
    }
    const deliver: NonNullable<CsvRow['deliver']> = {};
    const dIf = get('deliver_interface');
    const dMac = get('deliver_mac');
    const dVlan = get('deliver_vlan');
    const dAddr = get('deliver_addresses');
    if (dIf !== undefined) deliver.interface = dIf;
    if (dMac !== undefined) {
      if (!MAC_RE.test(dMac)) {
        res.errors.push({ line, message: `deliver_mac '${dMac}' is not a MAC address` });
        continue;
      }
      deliver.mac = dMac.toLowerCase().replace(/-/g, ':');
    }
    if (dVlan !== undefined) {
      const v = vlanIds(dVlan);
      if (!v) {
        res.errors.push({ line, message: `deliver_vlan '${dVlan}' is not OUTER[:INNER] with ids 1..4094` });
        continue;
      }
      deliver.vlan = v;
    }
    if (dAddr !== undefined) deliver.addresses = dAddr.split(/[\s;]+/).filter((a) => a !== '');
    if (Object.keys(deliver).length) row.deliver = deliver;
    res.rows.push(row);
    res.lines.push(line);
  }
  if (!header) res.errors.push({ line: 1, message: 'the file is empty (expected a header row: mac,vlan,prefix,isp)' });
  return res;
}
