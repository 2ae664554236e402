import Foundation

/// C copies of Swift strings for one bridge call whose arguments or option
/// fields are `const char *` and `const char *const *` (arrays of strings),
/// freed together with the owner: keep it alive across the call
/// (`withExtendedLifetime`), instead of nesting one `withCString` per string.
package final class CStringCopies {
    private var strings: [UnsafeMutablePointer<CChar>] = []
    private var arrays: [UnsafeMutableBufferPointer<UnsafePointer<CChar>?>] = []

    package init() {}

    package func copy(_ string: String) -> UnsafePointer<CChar> {
        let copied = strdup(string)!
        strings.append(copied)
        return UnsafePointer(copied)
    }

    /// `values` as a C array of strings (`count` is `values.count`).
    package func array(_ values: [String]) -> UnsafePointer<UnsafePointer<CChar>?> {
        let pointers = UnsafeMutableBufferPointer<UnsafePointer<CChar>?>.allocate(capacity: max(values.count, 1))
        for (index, value) in values.enumerated() { pointers[index] = copy(value) }
        arrays.append(pointers)
        return UnsafePointer(pointers.baseAddress!)
    }

    deinit {
        for string in strings { free(string) }
        for array in arrays { array.deallocate() }
    }
}
