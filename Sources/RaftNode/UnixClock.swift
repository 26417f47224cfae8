#if canImport(Glibc)
import Glibc
#endif

/// The wall clock, in Unix milliseconds: what expiry times (and snapshots' ages) are in.
/// Members' clocks are assumed to agree to well within an election timeout (README, "Time to
/// live").
public enum UnixClock {
    public static func milliseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(max(0, now.tv_sec)) * 1_000 + UInt64(max(0, now.tv_nsec)) / 1_000_000
    }
}
