using Akka.Actor;

namespace ActorRelay;

/// <summary>
/// A message that hands a live, mutable object (a side's data path, a socket, a socket creator) from one actor to
/// another in this process. Never serialized and never sent over the wire; what the receiver may do with the object,
/// and from which thread, is written in the threading model of the data path (src/ActorRelay/Sides/README.md).
/// Every other message of the relay is an immutable value.
/// </summary>
internal interface ILiveHandoff : INoSerializationVerificationNeeded;
