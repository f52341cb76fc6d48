/**
 * SMS texts. A PIN message says what the code is for and that it is for the cashier only.
 * Cyrillic text is UCS-2: one SMS holds 70 characters, so a longer template costs double;
 * the service warns at start when a template does not fit one SMS.
 */
import type { Config } from '../config.ts';
import { countSegments } from './segments.ts';

const DEFAULTS: Record<string, string> = {
  auth: '{brand}Код: {pin}. Действует {ttlMinutes} мин. Не сообщайте никому, кроме кассира',
  activation: '{brand}Код выдачи карты: {pin}. Не сообщайте никому, кроме кассира',
};

export function renderTemplate(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in values ? String(values[name]) : whole,
  );
}

export function renderPinMessage(config: Readonly<Config>, purpose: string, pin: string) {
  const template = (purpose === 'auth' && config.otp.template) || DEFAULTS[purpose] || DEFAULTS.auth!;
  const brand = config.otp.brand ? `${config.otp.brand}. ` : '';
  const text = renderTemplate(template, { pin, brand, ttlMinutes: Math.ceil(config.otp.ttlSeconds / 60) });
  return { text, templateId: `pin-${purpose}` };
}

/** Start-up warnings for PIN templates that take more than one SMS. */
export function checkTemplates(config: Readonly<Config>): string[] {
  return Object.keys(DEFAULTS).flatMap((purpose) => {
    const { text } = renderPinMessage(config, purpose, '0'.repeat(config.otp.length));
    const { segments, units } = countSegments(text);
    return segments > 1
      ? [
          `the ${purpose} PIN message is ${units} characters: ${segments} SMS each (one SMS holds 70 Cyrillic characters)`,
        ]
      : [];
  });
}
