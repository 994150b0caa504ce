import Foundation

/// Fixed-length blocks of token ids, cut from one token stream (the last partial block is dropped,
/// as in HF's run_clm `group_texts`).
public struct TokenBlocks: Sendable {
    public let blockSize: Int
    public let tokens: [Int32]
    public var count: Int { tokens.count / blockSize }

    public init(tokens: [Int32], blockSize: Int) {
        precondition(blockSize > 0)
        self.blockSize = blockSize
        self.tokens = tokens
    }

    public func block(_ i: Int) -> ArraySlice<Int32> {
        tokens[(i * blockSize)..<((i + 1) * blockSize)]
    }

    /// Splits off the last `fraction` of blocks (at least one when there are two or more, none when it is 0) for
    /// held-out evaluation.
    public func split(heldOutFraction fraction: Double) -> (train: TokenBlocks, heldOut: TokenBlocks) {
        let held = count >= 2 && fraction > 0 ? max(1, Int(Double(count) * fraction)) : 0
        let cut = (count - held) * blockSize
        return (TokenBlocks(tokens: Array(tokens[0..<cut]), blockSize: blockSize),
                TokenBlocks(tokens: Array(tokens[cut..<(count * blockSize)]), blockSize: blockSize))
    }
}

public enum TextFileError: Error, CustomStringConvertible {
    case unreadable(String, String)
    case tooShort(String, tokens: Int, blockSize: Int)

    public var description: String {
        switch self {
        case let .unreadable(path, why): return "\(path): cannot read text (\(why))"
        case let .tooShort(path, tokens, blockSize):
            return "\(path): only \(tokens) tokens, fewer than one block of \(blockSize)"
        }
    }
}

extension TokenBlocks {
    /// Reads a UTF-8 text file through the byte tokenizer and cuts it into blocks.
    public static func fromTextFile(_ url: URL, blockSize: Int) throws -> TokenBlocks {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw TextFileError.unreadable(url.path, (error as NSError).localizedDescription)
        }
        let tokens = data.map { Int32($0) }
        guard tokens.count >= blockSize else {
            throw TextFileError.tooShort(url.path, tokens: tokens.count, blockSize: blockSize)
        }
        return TokenBlocks(tokens: tokens, blockSize: blockSize)
    }
}

extension TokenBlocks {
    /// Tokenizes each document, appends EOS where the tokenizer has one (as the reference does: EOS after
    /// every document, no BOS), concatenates, and cuts blocks of `blockSize`.
    public static func fromDocuments(_ documents: [String], tokenizer: some TextTokenizer, blockSize: Int,
                                     source: String) throws -> TokenBlocks {
        var tokens: [Int32] = []
        for doc in documents {
            tokens += tokenizer.encode(doc)
            if let eos = tokenizer.eosTokenID { tokens.append(eos) }
        }
        guard tokens.count >= blockSize else {
            throw TextFileError.tooShort(source, tokens: tokens.count, blockSize: blockSize)
        }
        return TokenBlocks(tokens: tokens, blockSize: blockSize)
    }

    /// Reads UTF-8 text files, each one document.
    public static func readDocuments(_ urls: [URL]) throws -> [String] {
        try urls.map { url in
            let data: Data
            do { data = try Data(contentsOf: url) } catch {
                throw TextFileError.unreadable(url.path, (error as NSError).localizedDescription)
            }
            guard let text = String(data: data, encoding: .utf8) else {
                throw TextFileError.unreadable(url.path, "not valid UTF-8")
            }
            return text
        }
    }
}
