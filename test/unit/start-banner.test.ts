import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { describeMail } from '../../src/start-banner.js';

describe('the start banner: where mail goes', () => {
  it('names the outbox folder without SMTP_URL', () => {
    const config = loadConfig({ DATA_DIR: '/srv/keyward' });
    assert.equal(
      describeMail(config),
      `outbox: .eml files in ${path.join('/srv/keyward', 'outbox')} (no SMTP_URL)`,
    );
  });

  it('names the SMTP server and sender, never the password in SMTP_URL', () => {
    const config = loadConfig({
      SMTP_URL: 'smtp://mailer:s3cret-pass@mail.example.com:587',
      MAIL_FROM: 'Keyward <no-reply@example.com>',
    });
    const shown = describeMail(config);
    assert.match(shown, /mail\.example\.com:587/);
    assert.match(shown, /no-reply@example\.com/);
    assert.ok(!shown.includes('s3cret-pass'), shown);
  });
});
