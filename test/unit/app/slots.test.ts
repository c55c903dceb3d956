import { describe, expect, it } from 'vitest';
import type { JobDefinition } from '../../../core/config/load-job.js';
import { arrivalDeadline, businessDateOf, daysBetween, runIdFor, slotsBetween } from '../../../app/slots.js';

const job = (cron: string, timezone = 'Europe/Berlin', extra: object = {}): JobDefinition =>
  ({ name: 'j', schedule: { cron, timezone, ...extra } }) as unknown as JobDefinition;

describe('schedule slots', () => {
  it('a daily 02:30 Berlin slot fires once a day across both DST changes', () => {
    const spring = slotsBetween(
      job('30 2 * * *'),
      new Date('2026-03-28T00:00Z'),
      new Date('2026-03-31T00:00Z'),
    );
    // 29 March: 02:30 does not exist; it fires at 03:30 CEST (01:30Z), once
    expect(spring.map((d) => d.toISOString())).toEqual([
      '2026-03-28T01:30:00.000Z',
      '2026-03-29T01:30:00.000Z',
      '2026-03-30T00:30:00.000Z',
    ]);
    const autumn = slotsBetween(
      job('30 2 * * *'),
      new Date('2026-10-24T00:00Z'),
      new Date('2026-10-27T00:00Z'),
    );
    // 25 October: 02:30 happens twice; it fires once (the first)
    expect(autumn.map((d) => d.toISOString())).toEqual([
      '2026-10-24T00:30:00.000Z',
      '2026-10-25T00:30:00.000Z',
      '2026-10-26T01:30:00.000Z',
    ]);
  });

  it('second-level crons, weekdays and run ids', () => {
    expect(
      slotsBetween(
        job('*/20 * * * * *', 'UTC'),
        new Date('2026-01-01T00:00:00Z'),
        new Date('2026-01-01T00:01:00Z'),
      ),
    ).toHaveLength(3);
    const weekdays = slotsBetween(
      job('0 9 * * MON-FRI'),
      new Date('2026-11-20T00:00Z'),
      new Date('2026-11-27T00:00Z'),
    );
    expect(weekdays).toHaveLength(5);
    expect(runIdFor('demo-customers', new Date('2026-11-24T01:30:00Z'))).toBe(
      'demo-customers@2026-11-24T01:30Z',
    );
    expect(runIdFor('d', new Date('2026-11-24T01:30:04Z'))).toBe('d@2026-11-24T01:30:04Z');
  });

  it('business date and arrival deadline in the job’s zone', () => {
    const slot = new Date('2026-11-23T23:30:00Z'); // 00:30 on the 24th in Berlin
    expect(businessDateOf(job('30 0 * * *'), slot)).toBe('20261124');
    expect(businessDateOf(job('30 0 * * *', 'Europe/Berlin', { businessDayOffset: -1 }), slot)).toBe(
      '20261123',
    );
    expect(
      arrivalDeadline(job('30 0 * * *', 'Europe/Berlin', { arrivalBy: '02:00' }), slot)?.toISOString(),
    ).toBe('2026-11-24T01:00:00.000Z');
    expect(
      arrivalDeadline(job('30 0 * * *', 'Europe/Berlin', { arrivalBy: '90m' }), slot)?.toISOString(),
    ).toBe('2026-11-24T01:00:00.000Z');
    expect(daysBetween('2026-02-27', '2026-03-01')).toEqual(['2026-02-27', '2026-02-28', '2026-03-01']);
  });
});
