import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { CATEGORIES, type Category } from './schemas.js';

// The help desk the workflow's tools act on: the policies and teams (small YAML files shipped with
// the example) and a record of the tickets and emails the agents sent, for the view and the tests.

export interface Team {
  id: string;
  handles: string;
  on_call: string;
}

export interface SentTicket {
  id: string;
  run: string;
  team: string;
  priority: number;
  summary: string;
  customer_email: string;
}

export interface SentEmail {
  id: string;
  run: string;
  stage: string;
  to: string;
  subject: string;
  body: string;
}

// From the sources the data sits next to this file; from the build (dist/workflows/…) it is read
// from the package's sources, since tsc does not copy YAML.
const DATA_DIRS = ['./data/', '../../../workflows/customer-support/data/'].map((p) => new URL(p, import.meta.url));

function readData(file: string): unknown {
  const dir = DATA_DIRS.find((d) => existsSync(new URL(file, d)));
  if (!dir) throw new Error(`customer-support data file ${file} not found`);
  return parseYaml(readFileSync(new URL(file, dir), 'utf8'));
}

export class ServiceDesk {
  readonly policies: Record<Category, { id: string; rule: string }[]>;
  readonly teams: Team[];
  readonly tickets: SentTicket[] = [];
  readonly emails: SentEmail[] = [];

  constructor() {
    this.policies = readData('policies.yaml') as ServiceDesk['policies'];
    this.teams = readData('teams.yaml') as Team[];
  }

  policyYaml(category: string): string {
    if (!CATEGORIES.includes(category as Category)) throw new Error(`no policy for category "${category}" (categories: ${CATEGORIES.join(', ')})`);
    return toYaml({ [category]: this.policies[category as Category] });
  }

  teamsYaml(): string {
    return toYaml(this.teams);
  }

  sendTicket(ticket: Omit<SentTicket, 'id'>): SentTicket {
    if (!this.teams.some((t) => t.id === ticket.team)) {
      throw new Error(`unknown team "${ticket.team}" (teams: ${this.teams.map((t) => t.id).join(', ')})`);
    }
    const sent = { id: `T-${1001 + this.tickets.length}`, ...ticket };
    this.tickets.push(sent);
    return sent;
  }

  sendEmail(email: Omit<SentEmail, 'id'>): SentEmail {
    const sent = { id: `M-${1001 + this.emails.length}`, ...email };
    this.emails.push(sent);
    return sent;
  }
}
