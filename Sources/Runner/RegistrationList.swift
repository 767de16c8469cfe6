/// An ordered collection of registrations (handlers, waiting continuations) with cheap removal.
///
/// Keys only ever grow, so the entries stay sorted by key and finding one is a binary search.
/// A removal leaves a hole; holes are squeezed out once they are the majority, so removal stays
/// amortised O(log n) even when a long-lived token sees thousands of short-lived registrations.
/// Keys and elements share one array, so a list with one registration costs one allocation.
struct RegistrationList<Element> {
    private enum Slot {
        case reserved
        case live(Element)
        case removed
    }

    private struct Entry {
        let key: UInt64
        var slot: Slot
    }

    private var entries: [Entry] = []
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
        guard let index = index(of: key), case .reserved = entries[index].slot else { return false }
        entries[index].slot = .live(element)
        return true
    }

    /// Removes the registration under `key` and returns its element, if it had one.
    @discardableResult
    mutating func remove(_ key: UInt64) -> Element? {
        guard let index = index(of: key) else { return nil }
        let slot = entries[index].slot
        if case .removed = slot { return nil }
        entries[index].slot = .removed
        removedCount += 1
        compactIfSparse()
        if case .live(let element) = slot { return element }
        return nil
    }

    /// Removes everything and returns the elements in the order they were added.
    mutating func removeAll() -> [Element] {
        var live: [Element] = []
        live.reserveCapacity(entries.count - removedCount)
        for entry in entries {
            if case .live(let element) = entry.slot { live.append(element) }
        }
        entries = []
        removedCount = 0
        return live
    }

    private mutating func append(_ slot: Slot) -> UInt64 {
        let key = nextKey
        nextKey += 1
        entries.append(Entry(key: key, slot: slot))
        return key
    }

    private func index(of key: UInt64) -> Int? {
        var low = 0
        var high = entries.count
        while low < high {
            let middle = (low + high) / 2
            let found = entries[middle].key
            if found == key { return middle }
            if found < key { low = middle + 1 } else { high = middle }
        }
        return nil
    }

    private mutating func compactIfSparse() {
        guard removedCount > 16 && removedCount * 2 > entries.count else { return }
        entries.removeAll { if case .removed = $0.slot { true } else { false } }
        removedCount = 0
    }
}
