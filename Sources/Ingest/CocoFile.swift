import Foundation

/// A COCO annotation file as medsynth reads it (docs/catalog.md): each image
/// names a catalogued DICOM frame by `sop_instance_uid` and `frame_number`
/// (from 1); annotations carry keypoints `[x, y, v, ...]` in the frame's
/// pixels ((0, 0) the centre of the top-left pixel) and masks as polygons or
/// RLE. Keys medsynth does not use (`info`, `licenses`, `bbox`, `area`, ...) are ignored.
struct CocoFile: Decodable {
    struct Image: Decodable {
        let id: Int
        let width: Int?
        let height: Int?
        let sopInstanceUid: String?
        let frameNumber: Int?
    }

    struct Category: Decodable {
        let id: Int
        let name: String
        let supercategory: String?
        let keypoints: [String]?
        let skeleton: [[Int]]?
    }

    struct Annotation: Decodable {
        let id: Int
        let imageId: Int
        let categoryId: Int
        let keypoints: [Double]?
        let segmentation: Segmentation?
    }

    /// COCO's two mask forms: polygons, or run lengths over `size` = [rows, columns].
    enum Segmentation: Decodable {
        case polygons([[Double]])
        case runLengths(counts: RunLengthCounts, size: [Int])

        enum RunLengthCounts {
            case list([Int])
            /// pycocotools' compressed string.
            case compressed(String)
        }

        private enum Keys: String, CodingKey { case counts, size }

        init(from decoder: any Decoder) throws {
            if let polygons = try? decoder.singleValueContainer().decode([[Double]].self) {
                self = .polygons(polygons)
                return
            }
            let container = try decoder.container(keyedBy: Keys.self)
            let size = try container.decode([Int].self, forKey: .size)
            if let list = try? container.decode([Int].self, forKey: .counts) {
                self = .runLengths(counts: .list(list), size: size)
            } else {
                self = .runLengths(counts: .compressed(try container.decode(String.self, forKey: .counts)), size: size)
            }
        }
    }

    let images: [Image]
    let annotations: [Annotation]
    let categories: [Category]

    /// What a `.json` file turned out to be.
    enum Reading {
        case coco(CocoFile)
        /// JSON, but not a COCO annotation file (a synthesis manifest, say): skipped.
        case otherJSON
        /// Not JSON, or COCO with a value of the wrong type: the reason.
        case unreadable(String)
    }

    /// Reads `data`: a JSON object with `images` and `annotations` is taken for COCO.
    static func read(_ data: Data) -> Reading {
        guard let object = try? JSONSerialization.jsonObject(with: data) else {
            return .unreadable("not valid JSON")
        }
        guard let keys = object as? [String: Any], keys["images"] != nil, keys["annotations"] != nil else { return .otherJSON }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            return .coco(try decoder.decode(CocoFile.self, from: data))
        } catch let DecodingError.keyNotFound(key, context) {
            return .unreadable("\(Self.place(context.codingPath)) has no \"\(Self.snakeCase(key.stringValue))\"")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context),
            let DecodingError.dataCorrupted(context)
        {
            return .unreadable("\(Self.place(context.codingPath)): a value of the wrong type")
        } catch {
            return .unreadable("\(error)")
        }
    }

    /// "annotations[3].keypoints" for a decoding path.
    private static func place(_ path: [any CodingKey]) -> String {
        guard !path.isEmpty else { return "the file" }
        return path.map { key in key.intValue.map { "[\($0)]" } ?? "." + snakeCase(key.stringValue) }.joined()
            .trimmingCharacters(in: CharacterSet(charactersIn: "."))
    }

    private static func snakeCase(_ name: String) -> String {
        name.reduce(into: "") { text, character in
            if character.isUppercase { text += "_" + character.lowercased() } else { text.append(character) }
        }
    }
}
