/// What the catalog records of one DICOM instance: patient, study, series and
/// instance attributes, read from the file's dataset and meta header.
public struct InstanceMetadata: Sendable, Equatable, Codable {
    public var patientID: String
    public var patientName: String
    public var patientBirthDate: String?
    public var patientSex: String?

    public var studyInstanceUID: String
    public var studyDate: String?
    public var studyTime: String?
    public var studyDescription: String?
    public var accessionNumber: String?

    public var seriesInstanceUID: String
    /// nil when the file states none (some secondary captures).
    public var modality: String?
    public var seriesNumber: Int?
    public var seriesDescription: String?
    public var bodyPartExamined: String?

    public var sopClassUID: String
    public var sopInstanceUID: String
    public var instanceNumber: Int?
    public var transferSyntaxUID: String
    public var transferSyntaxName: String
    public var rows: Int
    public var columns: Int
    public var frames: Int
    public var samplesPerPixel: Int
    public var photometricInterpretation: String?
    public var bitsAllocated: Int?
    public var bitsStored: Int?
    public var pixelRepresentation: Int?
    public var manufacturer: String?
    public var manufacturerModelName: String?
    public var burnedInAnnotation: String?
    public var imageType: String?
    public var conversionType: String?
    /// Synthetic Data (0008,001C) as written in the file.
    public var syntheticData: String?

    /// Whether the pixel data is present and decodable here.
    public var decodable: Bool
    /// Why not, when it is not.
    public var undecodableReason: String?
    /// What a decodable Segmentation labels (nil for images).
    public var segmentation: SegmentationContent? = nil

    /// Generated rather than acquired: Synthetic Data YES or Conversion Type SYN
    /// (PS3.3 C.12.1, C.8.6.1).
    public var isSynthetic: Bool {
        syntheticData?.uppercased() == "YES" || conversionType?.uppercased() == "SYN"
    }
}

extension InstanceMetadata {
    /// Reads the metadata of an opened file and checks its pixel data against
    /// the limits. Throws `DicomError` when a required UID is missing or the
    /// pixel data is inconsistent.
    public init(file: DicomFile) throws {
        func required(_ tag: DicomTag, _ name: String) throws -> String {
            guard let value = file.string(tag), !value.isEmpty else {
                throw DicomError("missing \(name) \(tag)", path: file.path)
            }
            return value
        }
        let sopInstanceUID = try required(.sopInstanceUID, "SOP Instance UID")
        let hasPixelData = try file.validatePixelData()
        let syntax = file.transferSyntax
        // No decoder here (JPEG 2000) or a kind of image DCMTK does not render:
        // catalogued as not decodable, to become usable with a decoder. A
        // decoder that fails on a frame: the pixel data is corrupt and the file
        // is rejected, so that whatever is catalogued as decodable decodes in full.
        let undecodable = hasPixelData ? try file.undecodableReason ?? file.verifyFrames() : "no pixel data"
        self.init(
            patientID: file.string(.patientID) ?? "",
            patientName: file.string(.patientName) ?? "",
            patientBirthDate: file.string(.patientBirthDate).nonEmpty,
            patientSex: file.string(.patientSex).nonEmpty,
            studyInstanceUID: try required(.studyInstanceUID, "Study Instance UID"),
            studyDate: file.string(.studyDate).nonEmpty,
            studyTime: file.string(.studyTime).nonEmpty,
            studyDescription: file.string(.studyDescription).nonEmpty,
            accessionNumber: file.string(.accessionNumber).nonEmpty,
            seriesInstanceUID: try required(.seriesInstanceUID, "Series Instance UID"),
            modality: file.string(.modality).nonEmpty,
            seriesNumber: file.integer(.seriesNumber),
            seriesDescription: file.string(.seriesDescription).nonEmpty,
            bodyPartExamined: file.string(.bodyPartExamined).nonEmpty,
            sopClassUID: file.string(.sopClassUID) ?? "",
            sopInstanceUID: sopInstanceUID,
            instanceNumber: file.integer(.instanceNumber),
            transferSyntaxUID: syntax.uid,
            transferSyntaxName: syntax.name,
            rows: hasPixelData ? file.integer(.rows) ?? 0 : 0,
            columns: hasPixelData ? file.integer(.columns) ?? 0 : 0,
            frames: hasPixelData ? max(file.integer(.numberOfFrames) ?? 1, 1) : 0,
            samplesPerPixel: file.integer(.samplesPerPixel) ?? 1,
            photometricInterpretation: file.string(.photometricInterpretation).nonEmpty,
            bitsAllocated: file.integer(.bitsAllocated),
            bitsStored: file.integer(.bitsStored),
            pixelRepresentation: file.integer(.pixelRepresentation),
            manufacturer: file.string(.manufacturer).nonEmpty,
            manufacturerModelName: file.string(.manufacturerModelName).nonEmpty,
            burnedInAnnotation: file.string(.burnedInAnnotation).nonEmpty,
            imageType: file.string(.imageType).nonEmpty,
            conversionType: file.string(.conversionType).nonEmpty,
            syntheticData: file.string(.syntheticData).nonEmpty,
            decodable: undecodable == nil,
            undecodableReason: undecodable
        )
        if undecodable == nil, SOPClass.segmentations.contains(sopClassUID) {
            segmentation = try SegmentationContent(file: file)
        }
    }
}

extension Optional where Wrapped == String {
    /// nil for an absent or empty value: DICOM's Type 2 attributes are often present but empty.
    var nonEmpty: String? {
        guard let value = self, !value.isEmpty else { return nil }
        return value
    }
}
