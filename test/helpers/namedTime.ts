/**
 * The instant a message names with "until HH:MM UTC": that minute on the day that puts it nearest
 * `near` (epoch ms), so a time named just after midnight UTC is read on the next day. Throws when
 * the message names none.
 */
export function namedUtcMinute(message: string, near: number): number {
  const m = /until (\d\d):(\d\d) UTC/.exec(message);
  if (!m) throw new Error(`no "until HH:MM UTC" in: ${message}`);
  const day = 86_400_000;
  const onDay = Math.floor(near / day) * day + (Number(m[1]) * 60 + Number(m[2])) * 60_000;
  return [onDay - day, onDay, onDay + day].reduce((best, t) => (Math.abs(t - near) < Math.abs(best - near) ? t : best));
}
