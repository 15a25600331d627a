// What the mediator's workspace loads once and its pages share: the
// signed-in account and the villages, stations, advisers and mediators in
// its reach.
import { api } from "../api.js";

export const workspace = { me: null, villages: [], stations: [], advisers: [], mediators: [] };

export async function loadWorkspace(me) {
  workspace.me = me;
  const [villages, stations, advisers, mediators] = await Promise.all([
    api("/villages?active=true"),
    api("/accounts?role=station&active=true"),
    api("/accounts?role=adviser&active=true"),
    api("/accounts?role=mediator&active=true"),
  ]);
  Object.assign(workspace, { villages, stations, advisers, mediators });
}
