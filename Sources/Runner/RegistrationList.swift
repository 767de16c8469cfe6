/// An ordered collection of registrations (handlers, waiting continuations) with cheap removal.
///
/// Keys only ever grow, so the storage stays sorted by key and finding one is a binary search.
/// A removal leaves a hole; holes are squeezed out once they are the majority, so removal stays
/// amortised O(log n) even when a long-lived token sees thousands of short-lived registrations.
struct RegistrationList<Element> {
    private enum Slot {
        case reserved
        case live(Element)
        case removed
    }

    private var keys: [UInt64] = []
    private var slots: [Slot] = []
    private var nextKey: UInt64 = 0
    private var removedCount = 0

    /// Adds an element and returns the key that removes it.
    mutating func add(_ element: Element) -> UInt64 {
        append(.live(element))
    }

    /// Reserves a key for an element that `fill(_:with:)` stores later. Removing the key before
    /// then makes the fill fail, which is how a waiter learns it was cancelled before it slept.
    mutating func reserveKey() -> UInt64 {
        append(.reserved)
    }

    /// Stores an element under a reserved key. Returns false if the key was removed meanwhile.
    mutating func fill(_ key: UInt64, with element: Element) -> Bool {
        guard let index = index(of: key), case .reserved = slots[index] else { return false }
        slots[index] = .live(element)
        return true
    }

    /// Removes the registration under `key` and returns its element, if it had one.
    @discardableResult
    mutating func remove(_ key: UInt64) -> Element? {
        guard let index = index(of: key) else { return nil }
        let slot = slots[index]
        guard case .removed = slot else {
            slots[index] = .removed
            removedCount += 1
            compactIfSparse()
            if case .live(let element) = slot { return element }
            return nil
        }
        return nil
    }

    /// Removes everything and returns the elements in the order they were added.
    mutating func removeAll() -> [Element] {
        var live: [Element] = []
        live.reserveCapacity(slots.count - removedCount)
        for case .live(let element) in slots { live.append(element) }
        keys = []
        slots = []
        removedCount = 0
        return live
    }

    private mutating func append(_ slot: Slot) -> UInt64 {
        let key = nextKey
        nextKey += 1
        keys.append(key)
        slots.append(slot)
        return key
    }

    private func index(of key: UInt64) -> Int? {
        var low = 0
        var high = keys.count
        while low < high {
            let middle = (low + high) / 2
            if keys[middle] == key { return middle }
            if keys[middle] < key { low = middle + 1 } else { high = middle }
        }
        return nil
    }

    private mutating func compactIfSparse() {
        guard removedCount > 16 && removedCount * 2 > keys.count else { return }
        var keptKeys: [UInt64] = []
        var keptSlots: [Slot] = []
        keptKeys.reserveCapacity(keys.count - removedCount)
        keptSlots.reserveCapacity(keys.count - removedCount)
        for index in keys.indices {
            if case .removed = slots[index] { continue }
            keptKeys.append(keys[index])
            keptSlots.append(slots[index])
        }
        keys = keptKeys
        slots = keptSlots
        removedCount = 0
    }
}
