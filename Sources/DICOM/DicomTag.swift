/// A DICOM attribute tag (group, element).
public struct DicomTag: Hashable, Sendable, CustomStringConvertible {
    public let group: UInt16
    public let element: UInt16

    public init(_ group: UInt16, _ element: UInt16) {
        self.group = group
        self.element = element
    }

    public var description: String {
        func hex(_ value: UInt16) -> String {
            let digits = String(value, radix: 16, uppercase: true)
            return String(repeating: "0", count: 4 - digits.count) + digits
        }
        return "(\(hex(group)),\(hex(element)))"
    }
}

/// The attributes medsynth reads, named as in PS3.6.
extension DicomTag {
    public static let transferSyntaxUID = DicomTag(0x0002, 0x0010)
    public static let imageType = DicomTag(0x0008, 0x0008)
    public static let sopClassUID = DicomTag(0x0008, 0x0016)
    public static let sopInstanceUID = DicomTag(0x0008, 0x0018)
    /// Synthetic Data, added in the 2024b edition: newer than DCMTK 3.6.7's dictionary.
    public static let syntheticData = DicomTag(0x0008, 0x001C)
    public static let studyDate = DicomTag(0x0008, 0x0020)
    public static let studyTime = DicomTag(0x0008, 0x0030)
    public static let accessionNumber = DicomTag(0x0008, 0x0050)
    public static let modality = DicomTag(0x0008, 0x0060)
    public static let conversionType = DicomTag(0x0008, 0x0064)
    public static let manufacturer = DicomTag(0x0008, 0x0070)
    public static let institutionName = DicomTag(0x0008, 0x0080)
    public static let stationName = DicomTag(0x0008, 0x1010)
    public static let studyDescription = DicomTag(0x0008, 0x1030)
    public static let seriesDescription = DicomTag(0x0008, 0x103E)
    public static let manufacturerModelName = DicomTag(0x0008, 0x1090)
    public static let derivationDescription = DicomTag(0x0008, 0x2111)
    public static let patientName = DicomTag(0x0010, 0x0010)
    public static let patientID = DicomTag(0x0010, 0x0020)
    public static let patientBirthDate = DicomTag(0x0010, 0x0030)
    public static let patientSex = DicomTag(0x0010, 0x0040)
    public static let patientIdentityRemoved = DicomTag(0x0012, 0x0062)
    public static let deidentificationMethod = DicomTag(0x0012, 0x0063)
    public static let bodyPartExamined = DicomTag(0x0018, 0x0015)
    public static let studyInstanceUID = DicomTag(0x0020, 0x000D)
    public static let seriesInstanceUID = DicomTag(0x0020, 0x000E)
    public static let seriesNumber = DicomTag(0x0020, 0x0011)
    public static let instanceNumber = DicomTag(0x0020, 0x0013)
    public static let samplesPerPixel = DicomTag(0x0028, 0x0002)
    public static let photometricInterpretation = DicomTag(0x0028, 0x0004)
    public static let numberOfFrames = DicomTag(0x0028, 0x0008)
    public static let rows = DicomTag(0x0028, 0x0010)
    public static let columns = DicomTag(0x0028, 0x0011)
    public static let bitsAllocated = DicomTag(0x0028, 0x0100)
    public static let bitsStored = DicomTag(0x0028, 0x0101)
    public static let pixelRepresentation = DicomTag(0x0028, 0x0103)
    public static let burnedInAnnotation = DicomTag(0x0028, 0x0301)
    public static let sequenceOfUltrasoundRegions = DicomTag(0x0018, 0x6011)
    public static let regionSpatialFormat = DicomTag(0x0018, 0x6012)
    public static let regionDataType = DicomTag(0x0018, 0x6014)
    public static let regionLocationMinX0 = DicomTag(0x0018, 0x6018)
    public static let regionLocationMinY0 = DicomTag(0x0018, 0x601A)
    public static let regionLocationMaxX1 = DicomTag(0x0018, 0x601C)
    public static let regionLocationMaxY1 = DicomTag(0x0018, 0x601E)
    public static let sharedFunctionalGroupsSequence = DicomTag(0x5200, 0x9229)
    public static let perFrameFunctionalGroupsSequence = DicomTag(0x5200, 0x9230)
}

/// The attributes medsynth writes into synthetic files besides those it reads.
extension DicomTag {
    public static let instanceCreationDate = DicomTag(0x0008, 0x0012)
    public static let instanceCreationTime = DicomTag(0x0008, 0x0013)
    public static let contentDate = DicomTag(0x0008, 0x0023)
    public static let contentTime = DicomTag(0x0008, 0x0033)
    public static let referringPhysicianName = DicomTag(0x0008, 0x0090)
    public static let codeValue = DicomTag(0x0008, 0x0100)
    public static let codingSchemeDesignator = DicomTag(0x0008, 0x0102)
    public static let codeMeaning = DicomTag(0x0008, 0x0104)
    public static let timezoneOffsetFromUTC = DicomTag(0x0008, 0x0201)
    public static let softwareVersions = DicomTag(0x0018, 0x1020)
    public static let secondaryCaptureDeviceManufacturer = DicomTag(0x0018, 0x1016)
    public static let secondaryCaptureDeviceManufacturerModelName = DicomTag(0x0018, 0x1018)
    public static let secondaryCaptureDeviceSoftwareVersions = DicomTag(0x0018, 0x1019)
    public static let frameLabelVector = DicomTag(0x0018, 0x2002)
    public static let contributingEquipmentSequence = DicomTag(0x0018, 0xA001)
    public static let contributionDateTime = DicomTag(0x0018, 0xA002)
    public static let contributionDescription = DicomTag(0x0018, 0xA003)
    public static let studyID = DicomTag(0x0020, 0x0010)
    public static let patientOrientation = DicomTag(0x0020, 0x0020)
    public static let laterality = DicomTag(0x0020, 0x0060)
    public static let highBit = DicomTag(0x0028, 0x0102)
    public static let frameIncrementPointer = DicomTag(0x0028, 0x0009)
    public static let rescaleIntercept = DicomTag(0x0028, 0x1052)
    public static let rescaleSlope = DicomTag(0x0028, 0x1053)
    public static let rescaleType = DicomTag(0x0028, 0x1054)
    public static let lossyImageCompression = DicomTag(0x0028, 0x2110)
    public static let purposeOfReferenceCodeSequence = DicomTag(0x0040, 0xA170)
    public static let presentationLUTShape = DicomTag(0x2050, 0x0020)
    // Segmentation (PS3.3 C.8.20) and the functional groups that reference its sources.
    public static let referencedSOPInstanceUID = DicomTag(0x0008, 0x1155)
    public static let referencedSOPClassUID = DicomTag(0x0008, 0x1150)
    public static let referencedSeriesSequence = DicomTag(0x0008, 0x1115)
    public static let referencedInstanceSequence = DicomTag(0x0008, 0x114A)
    public static let referencedFrameNumber = DicomTag(0x0008, 0x1160)
    public static let sourceImageSequence = DicomTag(0x0008, 0x2112)
    public static let derivationImageSequence = DicomTag(0x0008, 0x9124)
    public static let segmentationType = DicomTag(0x0062, 0x0001)
    public static let segmentSequence = DicomTag(0x0062, 0x0002)
    public static let segmentNumber = DicomTag(0x0062, 0x0004)
    public static let segmentLabel = DicomTag(0x0062, 0x0005)
    public static let segmentIdentificationSequence = DicomTag(0x0062, 0x000A)
    public static let referencedSegmentNumber = DicomTag(0x0062, 0x000B)
    public static let maximumFractionalValue = DicomTag(0x0062, 0x000E)
}

/// Where an attribute sits, as DCMTK's path syntax spells it: a tag at the
/// top level, or inside an item of a sequence ("(0018,A001)[0].(0008,0070)").
public struct DicomPath: Sendable, CustomStringConvertible {
    public let description: String

    /// `tag` at the top level.
    public init(_ tag: DicomTag) { description = tag.description }

    private init(description: String) { self.description = description }

    /// `tag` inside item `item` (from 0) of the sequence at this path.
    public func item(_ item: Int, _ tag: DicomTag) -> DicomPath {
        DicomPath(description: "\(description)[\(item)].\(tag)")
    }
}
