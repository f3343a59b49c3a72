import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ipBucket } from '../../src/services/rate-limiter.js';

describe('ipBucket: the address a per-IP rate limit counts', () => {
  it('an IPv4-mapped IPv6 address is the same bucket as the IPv4 address', () => {
    for (const mapped of [
      '::ffff:192.0.2.1',
      '::FFFF:192.0.2.1',
      '0:0:0:0:0:ffff:192.0.2.1',
      '::ffff:c000:201',
    ]) {
      assert.equal(ipBucket(mapped), '192.0.2.1', mapped);
    }
    assert.equal(ipBucket('192.0.2.1'), '192.0.2.1');
  });

  it('two different IPv4-mapped clients are two buckets (a dual-stack listener must not pool IPv4)', () => {
    assert.equal(ipBucket('::ffff:127.0.0.1'), '127.0.0.1');
    assert.equal(ipBucket('::ffff:127.0.0.2'), '127.0.0.2');
    assert.notEqual(ipBucket('::ffff:203.0.113.7'), ipBucket('::ffff:198.51.100.7'));
    assert.notEqual(ipBucket('::ffff:10.0.0.1'), ipBucket('::ffff:10.0.0.2'));
  });

  it('IPv6 addresses are grouped by their /64, however they are written', () => {
    const bucket = ipBucket('2001:db8:1:1::1');
    assert.equal(bucket, '2001:db8:1:1::/64');
    for (const same of [
      '2001:db8:1:1::2',
      '2001:db8:1:1:ffff:ffff:ffff:ffff',
      '2001:0DB8:0001:0001:0:0:0:1',
      '2001:db8:1:1:abcd::9',
    ]) {
      assert.equal(ipBucket(same), bucket, same);
    }
    for (const other of ['2001:db8:1:2::1', '2001:db8:2:1::1', '2001:db9:1:1::1']) {
      assert.notEqual(ipBucket(other), bucket, other);
    }
    assert.equal(ipBucket('::1'), '0:0:0:0::/64');
    assert.equal(ipBucket('2001:db8::'), '2001:db8:0:0::/64');
  });

  it('a zone id is not part of the address', () => {
    assert.equal(ipBucket('fe80::1%eth0'), 'fe80:0:0:0::/64');
    assert.equal(ipBucket('fe80::1%eth0'), ipBucket('fe80::1%lo'));
    assert.equal(ipBucket('fe80::1%eth0'), ipBucket('fe80::1'));
    assert.notEqual(ipBucket('fe80:0:0:1::1%eth0'), ipBucket('fe80::1%eth0'));
  });

  it('something that is no IP address is its own bucket', () => {
    assert.equal(ipBucket('unknown'), 'unknown');
  });
});
