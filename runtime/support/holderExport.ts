/**
 * Everything the service holds about one guest, by phone: their cards, their consents with every
 * entry, their sessions, card issues and refused attempts (live and archived), and the campaign
 * messages sent to them — as data (JSON) and as a text in Russian a guest can read (152-FZ
 * art. 14: the subject's right to know what is processed).
 */
import type { Card, CardDirectory, ConsentRecord } from '../ports.ts';
import type { ConsentLedger } from '../consents.ts';
import type { WorkflowHost } from '../workflows/host.ts';
import type { WorkflowRecord } from '../workflows/types.ts';
import type { Recipient } from '../campaigns/types.ts';
import type { CampaignRows } from '../campaigns/rows.ts';
import { zoneFormat } from '../zoneFormat.ts';

export interface CampaignMessage {
  campaignId: string;
  campaign: string;
  runId: string;
  status: string;
  at: string | null;
}

export interface HolderExport {
  phone: string;
  generatedAt: string;
  cards: Card[];
  consent: ConsentRecord | null;
  /** Authorizations, card issues and refused attempts, newest first. */
  sessions: WorkflowRecord[];
  /** The latest line of each campaign message sent to the phone. */
  campaignMessages: CampaignMessage[];
}

export async function exportHolder(
  deps: {
    directory: CardDirectory;
    consents: ConsentLedger;
    host: WorkflowHost;
    /** Campaign definitions and their runs' outcome lines. */
    campaigns: Pick<CampaignRows, 'defs' | 'scanLines'>;
  },
  phone: string,
  now: number,
): Promise<HolderExport> {
  const sessions: WorkflowRecord[] = [];
  let after: { createdAt: string; id: string } | null = null;
  do {
    const page = await deps.host.search({ kinds: ['auth', 'activation', 'attempt'], phone }, 200, after);
    sessions.push(...page.items);
    after = page.next;
  } while (after);
  const campaignMessages: CampaignMessage[] = [];
  for (const def of await deps.campaigns.defs()) {
    for (const runId of def.runs) {
      // The run's file in order: a phone's later lines (a delivery status) complete its earlier ones.
      const found: { line: Recipient | null } = { line: null };
      await deps.campaigns.scanLines(
        runId,
        (r) => {
          if (r.phone === phone) found.line = { ...(found.line ?? r), ...r };
        },
        phone,
      );
      const { line } = found;
      if (line)
        campaignMessages.push({
          campaignId: def.id,
          campaign: def.name,
          runId,
          status: line.status,
          at: line.at ?? null,
        });
    }
  }
  return {
    phone,
    generatedAt: new Date(now).toISOString(),
    cards: await deps.directory.byPhone(phone),
    consent: (await deps.consents.get(phone)) ?? null,
    sessions,
    campaignMessages,
  };
}

const KIND = {
  auth: 'списание по карте (авторизация)',
  activation: 'выдача карты',
  attempt: 'отказ до начала',
};
const CARD_STATE = {
  inactive: 'не выдана',
  reserved: 'выдаётся',
  active: 'действует',
  blocked: 'заблокирована',
};

/** The export as a text in Russian, times in the venue's zone. */
export function exportText(e: HolderExport, timeZone: string): string {
  const when = (iso: string | null | undefined) =>
    iso ? zoneFormat(timeZone, 'dateTime').format(new Date(iso)) : '—';
  const out: string[] = [
    `Данные, которые SMS PDS хранит о владельце телефона ${e.phone}`,
    `Составлено: ${when(e.generatedAt)} (${timeZone})`,
    '',
    `Карты (${e.cards.length}):`,
  ];
  for (const c of e.cards) {
    out.push(
      `  • ${c.number}: ${CARD_STATE[c.state]}; владелец ${c.holder?.fullName ?? '—'}, день рождения ${c.holder?.birthday ?? '—'}; скидка ${c.discount}, бонус ${c.bonus}; действует до ${c.expiresAt ?? 'без срока'}; выдана ${when(c.activatedAt)}`,
    );
  }
  out.push('', 'Согласия:');
  if (!e.consent) out.push('  нет записей');
  else {
    out.push(
      `  • на обработку персональных данных: ${e.consent.pd ? `дано ${when(e.consent.pd.at)}, текст версии ${e.consent.pd.textVersion}` : 'не записано'}`,
      `  • на новости по СМС: ${e.consent.marketing ? 'дано' : 'нет'}`,
      '  История:',
    );
    for (const h of e.consent.history)
      out.push(
        `    ${when(h.at)}: новости — ${h.marketing ? 'да' : 'нет'}${h.pd ? `, обработка данных — да (текст ${h.pdTextVersion})` : ''}; где: ${h.source}; кто записал: ${h.by}`,
      );
  }
  out.push('', `Обращения на кассе (${e.sessions.length}):`);
  for (const s of e.sessions)
    out.push(
      `  • ${when(s.createdAt)}: ${KIND[s.kind as keyof typeof KIND] ?? s.kind}, ${s.state}; касса ${s.terminal ?? '—'}; карта ${s.card ?? '—'}`,
    );
  out.push('', `Рассылки (${e.campaignMessages.length}):`);
  for (const m of e.campaignMessages) out.push(`  • «${m.campaign}»: ${m.status}, ${when(m.at)}`);
  return out.join('\n') + '\n';
}
