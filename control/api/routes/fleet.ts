// The router's fleet agent as the API shows it: where it is connected, the intent generation it
// applied, and what it refused. Present when the daemon runs with --fleet.
import { HttpError, type Route } from '../http.js';

export interface FleetView {
  /** the agent's status (control/fleet/agent.ts AgentStatus), or undefined without --fleet */
  status(): unknown;
}

export function fleetRoutes(fleet: FleetView | undefined): Route[] {
  return [
    {
      method: 'GET',
      path: '/v1/fleet',
      auth: true,
      handler: async () => {
        const s = fleet?.status();
        if (s === undefined) throw new HttpError(404, 'not_found', 'this router is not in a fleet (start `fecflow serve` with --fleet nats://HOST:PORT)');
        return { json: s };
      },
    },
  ];
}
