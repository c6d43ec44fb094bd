// The router file of the sessions' root tests: the rig's headend (test/daemon/rig.ts) with one
// ISP whose RADIUS server is a FreeRADIUS on the router namespace's loopback, and the rig's
// subscriber admitted by session.
import type { FreeRadius } from '../helpers/freeradius.js';
import { SUB_MAC, type Rig } from '../daemon/rig.js';

export function headendConfig(rig: Rig, radius: FreeRadius, o: { secret: string; password: string; coaPort?: number }): string {
  return `node: ${rig.node}
interfaces:
  - name: acc
    device: ${rig.acc}
    role: access
  - name: core
    device: ${rig.core}
    role: core
    neighbours:
      lsr: "02:00:00:00:00:99"
sessions:
  ${o.coaPort ? `coa: { address: 127.0.0.1, port: ${o.coaPort} }` : ''}
  retry: { initial: 0.2, max: 1 }
isps:
  - id: 1
    name: alpha
    upstream:
      labels: [100]
      nexthop: { interface: core, neighbour: lsr }
    radius:
      server: 127.0.0.1
      authPort: ${radius.authPort}
      acctPort: ${radius.acctPort}
      secret: ${o.secret}
      password: ${o.password}
      interimInterval: 1
      timeout: 200
      retries: 1
      coa: { from: [127.0.0.1] }
subscribers:
  - name: s1
    isp: alpha
    admission: session
    match: { mac: "${SUB_MAC}" }
`;
}
