using ActorRelay.Protocol;

namespace ActorRelay.Latching;

/// <summary>What the latch policy decided about one datagram.</summary>
public enum LatchVerdict : byte
{
    /// <summary>From the latched source: relay it.</summary>
    Accept,
    /// <summary>First latch of this side: relay it and tell the channel.</summary>
    Latched,
    /// <summary>The latch moved to this source: relay it and tell the channel.</summary>
    Moved,
    /// <summary>Drop: source is unspecified, multicast, broadcast or port 0.</summary>
    DropInvalidSource,
    /// <summary>Drop: not the latched source and the policy does not follow it.</summary>
    DropForeignSource,
}

public static class LatchVerdicts
{
    public static bool Relays(this LatchVerdict v) => v <= LatchVerdict.Moved;
    public static bool ChangesLatch(this LatchVerdict v) => v is LatchVerdict.Latched or LatchVerdict.Moved;

    public static DropReason ToDropReason(this LatchVerdict v) => v switch
    {
        LatchVerdict.DropInvalidSource => DropReason.InvalidSource,
        LatchVerdict.DropForeignSource => DropReason.ForeignSource,
        _ => throw new ArgumentOutOfRangeException(nameof(v), v, "not a drop"),
    };
}

/// <summary>
/// The latch of one side: a pure, deterministic, single-threaded policy. The data path (either
/// transport) calls <see cref="Offer"/> for every datagram and acts on the verdict; nothing here
/// allocates. Time is passed in, never read.
/// </summary>
public sealed class SideLatch
{
    private PacketSource _current;

    public SideLatch(LatchMode mode) => Mode = mode;

    public LatchMode Mode { get; }
    public bool IsLatched { get; private set; }

    /// <summary>The latched source; meaningful only when <see cref="IsLatched"/>.</summary>
    public PacketSource Current => _current;

    public LatchVerdict Offer(in PacketSource source, ReadOnlySpan<byte> datagram, long nowMs)
    {
        if (!source.IsValidPeer) return LatchVerdict.DropInvalidSource;
        if (!IsLatched)
        {
            _current = source;
            IsLatched = true;
            return LatchVerdict.Latched;
        }
        if (source == _current) return LatchVerdict.Accept;
        switch (Mode)
        {
            case LatchMode.Follow:
                _current = source;
                return LatchVerdict.Moved;
            default:
                return LatchVerdict.DropForeignSource;
        }
    }
}
