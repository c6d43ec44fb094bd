// The lab's static label plan and the router configs it becomes, in the format of
// deploy/examples/. A plan has a generation: generation 0 is what `lab up` installs, and a
// new label plan (generation 1, 2, …) uses labels that never collide with the previous one,
// so both can be installed side by side while traffic moves from one to the other.
//
//   upstream   headend pushes H(isp) → lsr swaps to L(isp) → tailend pops to the ISP's link
//   downstream tailend pushes T(isp) → lsr swaps to D(isp) → headend pops to the end-user
//
// with label = 10000 × generation + 1000 × hop + ISP id: generation 0 is 1001/2001/3001/4001
// for alpha (id 1) and 1002/2002/3002/4002 for beta (id 2).
import { stringify } from 'yaml';
import {
  ACCESS_MTU,
  CORE_LEN,
  CORE_LINKS,
  CORE_MTU,
  ISP_PLAN,
  ISPS,
  LDP_PLAN,
  SUBSCRIBER_SPACE,
  ldpFecs,
  USER_PLAN,
  USERS,
  type IspName,
  type RouterName,
  type UserName,
} from './topology.js';

export type Hop = 'headend-push' | 'lsr-up' | 'tailend-push' | 'lsr-down';
const HOP_DIGIT: Record<Hop, number> = { 'headend-push': 1, 'lsr-up': 2, 'tailend-push': 3, 'lsr-down': 4 };
export const MAX_GENERATION = 99;

/** The label a hop uses for an ISP in a plan generation. */
export function label(gen: number, hop: Hop, isp: IspName): number {
  if (!Number.isInteger(gen) || gen < 0 || gen > MAX_GENERATION) throw new Error(`label plan generation ${gen} out of range 0..${MAX_GENERATION}`);
  return 10_000 * gen + 1000 * HOP_DIGIT[hop] + ISP_PLAN[isp].id;
}

/** What one router's config holds of the label plan: the generation its FECs (and ISP routes)
 * push, and the generations whose incoming labels are installed. Normally both are the same
 * single generation; during a plan change the ILM holds two. */
/** Link options of a lab: the MTU of the tailend's links to the ISPs (both ends; default 1500),
 * smaller to have the path MTU found through them. */
/** What a router's document is made of besides the plan: its links, and labels by LDP. */
export interface DocumentOptions extends LinkOptions {
  ldp?: boolean;
}

export interface LinkOptions {
  ispMtu?: number;
}

export interface PlanState {
  fecGen: number;
  ilmGens: number[];
}

export const planOf = (gen: number): PlanState => ({ fecGen: gen, ilmGens: [gen] });

/** Which ISP each end-user belongs to. */
export type Assignment = Record<UserName, IspName>;
export const DEFAULT_ASSIGNMENT: Assignment = { alice: 'alpha', bob: 'beta', carol: 'alpha' };

const neighbourOf = (r: RouterName): string => r;

function coreIf(router: RouterName, towards: RouterName) {
  for (const l of CORE_LINKS) {
    if (l.a.router === router && l.b.router === towards) return { me: l.a, peer: l.b };
    if (l.b.router === router && l.a.router === towards) return { me: l.b, peer: l.a };
  }
  throw new Error(`no core link ${router} – ${towards}`);
}

function coreInterface(router: RouterName, towards: RouterName) {
  const { me, peer } = coreIf(router, towards);
  return {
    name: me.ifname,
    role: 'core',
    mtu: CORE_MTU,
    addresses: [`${me.v4}/${CORE_LEN.v4}`, `${me.v6}/${CORE_LEN.v6}`],
    neighbours: { [neighbourOf(peer.router)]: peer.mac },
  };
}

const nexthop = (router: RouterName, towards: RouterName) => ({ interface: coreIf(router, towards).me.ifname, neighbour: neighbourOf(towards) });

/** The config document (plain data, as an operator would write it) of one router; with `ldp`,
 * the labels are learned by LDP: no static label anywhere, an `ldp:` section instead. */
export function routerDocument(router: RouterName, plan: PlanState = planOf(0), assignment: Assignment = DEFAULT_ASSIGNMENT, links: DocumentOptions = {}): Record<string, unknown> {
  const doc = staticDocument(router, plan, assignment, links);
  return links.ldp ? ldpDocument(router, doc) : doc;
}

function staticDocument(router: RouterName, plan: PlanState, assignment: Assignment, links: LinkOptions): Record<string, unknown> {
  switch (router) {
    case 'headend':
      return headendDocument(plan, assignment);
    case 'lsr':
      return lsrDocument(plan);
    case 'tailend':
      return tailendDocument(plan, links);
  }
}

const LDP_INTERFACES: Record<RouterName, string[]> = { headend: ['core0'], lsr: ['core0', 'core1', LDP_PLAN.frrLink.lsr.ifname], tailend: ['core0'] };

/** The static document without its labels, with the `ldp:` section that learns them. */
function ldpDocument(router: RouterName, doc: Record<string, unknown>): Record<string, unknown> {
  const isps = (doc.isps as Array<Record<string, unknown>>).map((i) => {
    const { upstream: _u, downstream, ...rest } = i;
    return downstream ? { ...rest, downstream: { links: (downstream as { links: unknown }).links } } : rest;
  });
  const interfaces = [...(doc.interfaces as unknown[])];
  if (router === 'lsr') {
    const f = LDP_PLAN.frrLink;
    interfaces.push({ name: f.lsr.ifname, role: 'core', mtu: CORE_MTU, addresses: [`${f.lsr.v4}/${f.len}`], neighbours: { frr: f.frr.mac } });
  }
  const [min, max] = LDP_PLAN.labels[router];
  return {
    ...doc,
    interfaces,
    isps,
    ilm: [],
    ldp: {
      enable: true,
      lsrId: LDP_PLAN.lsrId[router],
      interfaces: LDP_INTERFACES[router],
      helloInterval: LDP_PLAN.helloInterval,
      holdTime: LDP_PLAN.holdTime,
      labels: { min, max },
      staleTimeout: 60,
      releaseTimeout: 10,
      fecs: Object.fromEntries(ISPS.map((i) => [i, { ...ldpFecs(i), ...(router === 'tailend' ? { routes: [SUBSCRIBER_SPACE.v4, SUBSCRIBER_SPACE.v6] } : {}) }])),
    },
  };
}

function headendDocument(plan: PlanState, assignment: Assignment): Record<string, unknown> {
  const interfaces: unknown[] = USERS.map((u) => {
    const p = USER_PLAN[u];
    return {
      name: p.accessIf,
      role: 'access',
      mtu: ACCESS_MTU,
      // the gateway addresses (on acc2 they sit on its VLAN device): the router's own, so the
      // access program hands traffic to them to the kernel
      addresses: [`${p.gateway.v4}/24`, `${p.gateway.v6}/64`],
    };
  });
  interfaces.push(coreInterface('headend', 'lsr'));
  const subscribers = USERS.map((u) => {
    const p = USER_PLAN[u];
    const addresses = [`${p.host.v4}/32`, `${p.host.v6}/128`];
    switch (p.classifiedBy) {
      case 'mac':
        return { name: u, isp: assignment[u], match: { mac: p.host.mac }, deliver: { interface: p.accessIf, addresses } };
      case 'vlan':
        return {
          name: u,
          isp: assignment[u],
          match: { vlan: { interface: p.accessIf, outer: p.vlan!.outer, inner: p.vlan!.inner, tpid: '802.1ad' } },
          deliver: { mac: p.host.mac, addresses },
        };
      case 'prefix':
        return { name: u, isp: assignment[u], match: { prefix: [p.net.v4, p.net.v6] }, deliver: { interface: p.accessIf, mac: p.host.mac } };
    }
  });
  return {
    node: 'headend',
    ttlMode: 'uniform',
    unknownSubscriber: 'drop',
    interfaces,
    isps: ISPS.map((i) => ({
      id: ISP_PLAN[i].id,
      name: i,
      upstream: { labels: [label(plan.fecGen, 'headend-push', i)], nexthop: nexthop('headend', 'lsr') },
    })),
    subscribers,
    ilm: plan.ilmGens.flatMap((g) => ISPS.map((i) => ({ label: label(g, 'lsr-down', i), action: 'pop-to-subscriber', isp: i }))),
  };
}

function lsrDocument(plan: PlanState): Record<string, unknown> {
  return {
    node: 'lsr',
    ttlMode: 'uniform',
    interfaces: [coreInterface('lsr', 'headend'), coreInterface('lsr', 'tailend')],
    isps: ISPS.map((i) => ({ id: ISP_PLAN[i].id, name: i })),
    ilm: plan.ilmGens.flatMap((g) => [
      ...ISPS.map((i) => ({ label: label(g, 'headend-push', i), action: 'swap', labels: [label(g, 'lsr-up', i)], nexthop: nexthop('lsr', 'tailend') })),
      ...ISPS.map((i) => ({ label: label(g, 'tailend-push', i), action: 'swap', labels: [label(g, 'lsr-down', i)], nexthop: nexthop('lsr', 'headend') })),
    ]),
  };
}

function tailendDocument(plan: PlanState, links: LinkOptions): Record<string, unknown> {
  const interfaces: unknown[] = [coreInterface('tailend', 'lsr')];
  for (const i of ISPS) {
    const p = ISP_PLAN[i];
    interfaces.push({
      name: p.tailendIf,
      role: 'isp',
      mtu: links.ispMtu ?? ACCESS_MTU,
      addresses: [`${p.router.v4}/${p.len.v4}`, `${p.router.v6}/${p.len.v6}`],
      neighbours: { [`${i}-host`]: p.host.mac },
    });
  }
  return {
    node: 'tailend',
    ttlMode: 'uniform',
    interfaces,
    isps: ISPS.map((i) => ({
      id: ISP_PLAN[i].id,
      name: i,
      downstream: {
        links: [{ interface: ISP_PLAN[i].tailendIf }],
        routes: [SUBSCRIBER_SPACE.v4, SUBSCRIBER_SPACE.v6].map((prefix) => ({
          prefix,
          labels: [label(plan.fecGen, 'tailend-push', i)],
          nexthop: nexthop('tailend', 'lsr'),
        })),
      },
    })),
    ilm: plan.ilmGens.flatMap((g) =>
      ISPS.map((i) => ({
        label: label(g, 'lsr-up', i),
        action: 'pop-to-isp',
        isp: i,
        nexthop: { interface: ISP_PLAN[i].tailendIf, neighbour: `${i}-host` },
      })),
    ),
  };
}

/** A router's config file text (YAML), with a header saying where it came from. */
export function routerConfigText(router: RouterName, plan: PlanState = planOf(0), assignment: Assignment = DEFAULT_ASSIGNMENT, links: DocumentOptions = {}): string {
  const gens = plan.ilmGens.join(', ');
  if (links.ldp) {
    return `# fecflow lab: ${router}, generated by \`fecflow lab up --ldp\` (labels learned by LDP).\n` + stringify(routerDocument(router, plan, assignment, links), { lineWidth: 0 });
  }
  return (
    `# fecflow lab: ${router}, generated by \`fecflow lab up\` (label plan generation ${plan.fecGen}` +
    `${plan.ilmGens.length > 1 || plan.ilmGens[0] !== plan.fecGen ? `; incoming labels of generations ${gens}` : ''}).\n` +
    `# Format: deploy/examples/. The daemon writes API changes back to this file.\n` +
    stringify(routerDocument(router, plan, assignment, links), { lineWidth: 0 })
  );
}

/** The labels each router sees, for captures and the README picture. */
export function labelTable(gen: number): Record<IspName, { up: [number, number]; down: [number, number] }> {
  const out = {} as Record<IspName, { up: [number, number]; down: [number, number] }>;
  for (const i of ISPS) {
    out[i] = {
      up: [label(gen, 'headend-push', i), label(gen, 'lsr-up', i)],
      down: [label(gen, 'tailend-push', i), label(gen, 'lsr-down', i)],
    };
  }
  return out;
}
