using ActorRelay.Protocol;

namespace ActorRelay.Latching;

/// <summary>
/// How one side latches. <see cref="LearningWindow"/>: how long after the channel opens or a side is
/// re-signalled it may (re-)learn its source. <see cref="Probation"/> (mode Rtp): consecutive in-sequence
/// packets of one SSRC a source needs before it latches. <see cref="MaxSequenceJump"/> (mode Rtp): how far
/// ahead of the highest sequence number seen a packet from a new source may be and still carry the call
/// over (a NAT rebind). <see cref="Expected"/>: only a matching source may latch. The node's defaults come from
/// configuration (<see cref="Settings.RelaySettings.Latch"/>).
/// </summary>
public sealed record LatchPolicy(
    LatchMode Mode,
    TimeSpan LearningWindow,
    int Probation,
    int MaxSequenceJump,
    SourceFilter? Expected = null);
