/**
 * The configured SMS providers, built in the order of `sms.providers`, and the code-by-call
 * provider.
 */
import type { Config } from '../../runtime/config.ts';
import type { CallSender, SmsSender } from '../../runtime/ports.ts';
import { ConsoleSmsSender } from './console.ts';
import { SmscSender } from './smsc.ts';
import { SmsruSender } from './smsru.ts';
import { KazinfotehSender } from './kazinfoteh.ts';

export function buildSenders(
  config: Readonly<Config>,
  dataDir: string,
  write?: (line: string) => void,
): SmsSender[] {
  const { sms } = config;
  return sms.providers.map((name) => {
    switch (name) {
      case 'console':
        return new ConsoleSmsSender(dataDir, write);
      case 'smsc':
        return new SmscSender({ ...sms.smsc!, url: sms.smsc!.url, sender: sms.sender, dryRun: sms.dryRun });
      case 'smsru':
        return new SmsruSender({
          apiId: sms.smsru!.apiId!,
          url: sms.smsru!.url,
          sender: sms.sender,
          dryRun: sms.dryRun,
        });
      case 'kazinfoteh': {
        const k = sms.kazinfoteh!;
        const url =
          k.url ?? (k.api === 'legacy' ? 'http://kazinfoteh.org:9507' : 'https://so.kazinfoteh.org');
        return new KazinfotehSender({
          login: k.login!,
          password: k.password!,
          api: k.api,
          url,
          statusUrl: k.statusUrl,
          sender: sms.sender,
          dryRun: sms.dryRun,
        });
      }
    }
  });
}

/** The code-by-call provider (sms.ru), when `otp.call` is on. */
export function buildCaller(config: Readonly<Config>): CallSender | undefined {
  if (!config.otp.call || !config.sms.smsru?.apiId) return undefined;
  return new SmsruSender({
    apiId: config.sms.smsru.apiId,
    url: config.sms.smsru.url,
    sender: config.sms.sender,
    dryRun: config.sms.dryRun,
  });
}
