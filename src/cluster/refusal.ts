/**
 * Which Redis errors mean that this node's settings can never work, as opposed to a Redis
 * that is down, slow, restarting or loading its data. Before a node has joined, a refusal
 * ends it (start-up fails with exit 1); anything else is waited out (availability.machine.ts).
 *
 * A refusal is Redis answering, and saying no to who we are or where we point:
 *   NOAUTH, WRONGPASS   no password where one is required, a wrong one, a disabled user
 *   NOPERM              an ACL user not allowed a command or key the cluster needs
 *   ERR invalid password  the same as WRONGPASS, from a Redis before 6
 *   ERR DB index …      the database in the URL's path does not exist
 *   WRONGTYPE           a cluster key holds something else: REDIS_URL points at another
 *                       application's data, which the cluster must not overwrite
 *
 * Everything else is taken for trouble that passes: no answer, a refused or reset
 * connection, a timeout, LOADING, BUSY, OOM, READONLY during a failover, "max number of
 * clients reached". Waiting on an error wrongly taken for a passing one costs a node that
 * stays unready (and says why in its log); stopping on one wrongly taken for a refusal
 * would leave a node down through an outage, which is what waiting is for.
 */

const REFUSALS = /^(?:NOAUTH|WRONGPASS|NOPERM|WRONGTYPE)\b|^ERR (?:invalid password|DB index)/;

/** True when `err` is Redis refusing this node's settings (see above). */
export function isRefusal(err: unknown): boolean {
  return err instanceof Error && REFUSALS.test(err.message);
}
