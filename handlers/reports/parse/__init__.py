"""The 日报表 parser: free-form Chinese inspection reports into records."""
from handlers.reports.parse.model import ParseResult, Record, Report
from handlers.reports.parse.parser import Parser

__all__ = ["ParseResult", "Parser", "Record", "Report"]
